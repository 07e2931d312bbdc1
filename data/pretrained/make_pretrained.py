"""Pre-train the mini GPT that chapters 6 and 7 start from, and save it beside this script.

    python data/pretrained/make_pretrained.py        # about 8 minutes on 2 CPU cores

Chapter 5's model shape (3 blocks, 4 heads, d_model 96, tied embeddings) with a longer context,
T = 256 characters, so that a whole story and its summary fit (chapter 6) and the KV cache has room
to pay off (chapter 7). It is trained by the same code as chapter 5 and the command line
(`course.runs.train`: AdamW, stateless random windows, one device, float32) on the course corpus,
and written as Keras weights (`tiny_world_gpt.weights.h5`, about 1.5 MB) with a JSON record of how
it was made and what it reached (`tiny_world_gpt.json`). `course.data.load_pretrained_gpt` loads it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = "tiny_world_gpt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    from course.environment import QUIET_ENV, quiet_environment

    if any(os.environ.get(key) != value for key, value in QUIET_ENV.items()):
        # TensorFlow reads these when it starts: start again with them (quiet, oneDNN off, as in the
        # tests)
        os.execve(sys.executable, [sys.executable, *sys.argv], quiet_environment())
    import keras

    from course.data import load_text
    from course.runs import RunConfig, text_fingerprint, train
    from tinyllm.distributed import make_strategy
    from tinyllm.gpt import GPTConfig
    from tinyllm.text_data import prepare_text

    text = load_text()
    config = GPTConfig(
        vocabulary_size=28, sequence_length=256, num_layers=3, num_heads=4, d_model=96
    )
    data = prepare_text(text, config.sequence_length)
    if data.vocabulary_size != config.vocabulary_size:
        raise SystemExit(
            f"the corpus has {data.vocabulary_size} characters, expected {config.vocabulary_size}"
        )
    run = RunConfig(
        steps=args.steps,
        global_batch=32,
        seed=0,
        learning_rate=2e-3,
        weight_decay=0.01,
        precision="float32",
        jit_compile=True,
        val_tokens=65_536,
    )
    with tempfile.TemporaryDirectory() as scratch:
        result = train(make_strategy("default"), data, config, run, out=scratch)
    args.out.mkdir(parents=True, exist_ok=True)
    result.model.save_weights(args.out / f"{NAME}.weights.h5")
    record = {
        "model": asdict(config),
        "vocabulary": "".join(data.tokenizer.vocabulary),
        "corpus": "data/corpus/tiny_world.txt",
        "corpus_sha256_16": text_fingerprint(text),
        "validation_fraction": 0.1,
        "run": {
            "steps": run.steps,
            "global_batch": run.global_batch,
            "seed": run.seed,
            "learning_rate": run.learning_rate,
            "weight_decay": run.weight_decay,
            "precision": run.precision,
        },
        "val_loss": round(float(result.val_loss), 5),
        "val_tokens": run.val_tokens,
        "keras": keras.__version__,
        "made_by": "python data/pretrained/make_pretrained.py",
    }
    (args.out / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()

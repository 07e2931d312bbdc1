"""Fine-tune the chapter-5 mini GPT into chapter 6's summariser, four ways, and save the results
beside this script.

    python data/finetuned/make_finetuned.py        # 5 epochs; summarisers.json records each
                                                   # run's seconds
    python data/finetuned/make_finetuned.py --more-seeds --arms full lora
                                                   # seeds 1 and 2 after seed 0

The arms of chapter 6's experiment, each trained on the same examples (all 4,000 training stories,
EPOCHS times, 16 per step: the same number of examples seen), with AdamW, a linear warm-up over the
first 5 % of the steps and a cosine decay to 0 (``tinyllm.finetuning.FineTuner``):

    full       the pre-trained model, every weight trained, loss on the summary only (the
               prompt masked)
    lora       the pre-trained model frozen, LoRA of rank 4 (α = 4, scale α/r = 1) on every
               Dense layer
    unmasked   the pre-trained model, every weight trained, loss on every real token (story
               included)
    random     the same network from random weights, loss on every real token (a language
               model's loss)

Each arm's learning rate is chosen on the validation split (never the test split): a quarter of an
epoch per candidate (a short, cheap proxy for the full run), the candidate with the lowest
validation loss on the summaries wins (the unmasked arm takes full fine-tuning's, so that the two
differ only in the mask). Then the arm is trained for the full budget with seed 0 (and, for full and
LoRA, seeds 1 and 2: how far one run moves). Every run is scored with the chapter's code on all 300
test stories, decoded greedily: ROUGE-L F1 and exact match with 95 % bootstrap intervals over the
stories; and its loss on 16,384 characters of the pre-training corpus's validation split
(forgetting). Seed 0's weights are saved (``summariser_<arm>.weights.h5``, about 1.5 MB each; LoRA's
with the adapter merged into the kernels, as Keras saves a LoRA layer) with one JSON record of every
run (``summarisers.json``).
``course.data.load_finetuned_summariser`` loads them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = "summarisers.json"
ARMS = {  # start, loss on the prompt too?, LoRA rank, learning rates tried on validation
    "full": {
        "start": "pre-trained",
        "mask_prompt": True,
        "lora_rank": None,
        "candidates": [1e-3, 2e-3],
    },
    "lora": {
        "start": "pre-trained",
        "mask_prompt": True,
        "lora_rank": 4,
        "candidates": [3e-3, 1e-2],
    },
    "unmasked": {
        "start": "pre-trained",
        "mask_prompt": False,
        "lora_rank": None,
        "candidates": "full's",
    },
    "random": {
        "start": "random",
        "mask_prompt": False,
        "lora_rank": None,
        "candidates": [1e-3, 3e-3],
    },
}
BATCH, WARMUP_FRACTION, VAL_TOKENS, MAX_NEW_TOKENS, SWEEP_EPOCHS = 16, 0.05, 16_384, 80, 0.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds for full and LoRA (the other arms: 1)"
    )
    parser.add_argument(
        "--more-seeds",
        action="store_true",
        help="skip the sweep and seed 0: add seeds 1 … SEEDS − 1 to the recorded arms",
    )
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()

    from course.environment import QUIET_ENV, quiet_environment

    if any(os.environ.get(key) != value for key, value in QUIET_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], quiet_environment())
    import keras
    import numpy as np

    from course.data import load_pretrained_gpt, load_summaries, load_text
    from tinyllm import finetuning as ft
    from tinyllm.distributed import make_evaluator
    from tinyllm.gpt import GPT
    from tinyllm.text_data import prepare_text

    keras.config.set_dtype_policy("float32")
    pre = load_pretrained_gpt()
    tokenizer, config = pre.tokenizer, pre.config
    data = load_summaries()
    end_id = int(tokenizer.encode("\n")[0])
    validation = ft.task_examples(
        tokenizer, data.validation.stories, data.validation.summaries, config.sequence_length
    )
    test = ft.task_examples(
        tokenizer, data.test.stories, data.test.summaries, config.sequence_length
    )
    val_ids = prepare_text(load_text(), config.sequence_length).val_ids
    steps_per_epoch = len(data.train) // BATCH

    args.out.mkdir(parents=True, exist_ok=True)
    record_path = args.out / RECORD
    record = (
        json.loads(record_path.read_text(encoding="utf-8"))
        if record_path.exists()
        else {"arms": {}}
    )
    if args.more_seeds and record.get("epochs") != args.epochs:
        parser.error(
            f"--more-seeds adds to runs of {record.get('epochs')} epochs; give --epochs "
            f"{record.get('epochs')}"
        )
    record.update(
        {
            "epochs": args.epochs,
            "batch": BATCH,
            "examples_seen": args.epochs * steps_per_epoch * BATCH,
            "warmup_fraction": WARMUP_FRACTION,
            "val_tokens": VAL_TOKENS,
            "keras": keras.__version__,
            "made_by": "python data/finetuned/make_finetuned.py",
        }
    )

    masked_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    )

    def summary_loss(model, examples):
        logits = np.concatenate(
            [
                ft.forward_logits(model, examples.inputs[i : i + 100])
                for i in range(0, len(examples), 100)
            ]
        )
        return float(masked_loss(examples.targets, logits, sample_weight=examples.loss_mask))

    def run(arm, learning_rate, steps, seed):
        spec = ARMS[arm]
        train = ft.task_examples(
            tokenizer,
            data.train.stories,
            data.train.summaries,
            config.sequence_length,
            mask_prompt=spec["mask_prompt"],
        )
        keras.utils.set_random_seed(seed)
        model = GPT(config) if spec["start"] == "random" else load_pretrained_gpt().model
        if spec["lora_rank"]:
            ft.enable_lora(model, spec["lora_rank"])
        tuner = ft.FineTuner(
            model, learning_rate, steps, warmup_steps=round(WARMUP_FRACTION * steps)
        )
        start = time.perf_counter()
        curve = tuner.train(
            train,
            steps,
            BATCH,
            seed=seed,
            every=min(steps, steps_per_epoch // 2),
            evaluate=lambda: {
                "val_loss": summary_loss(model, validation),
                "val_exact_match": float(ft.teacher_forced_exact_match(model, validation).mean()),
            },
        )
        return model, curve, time.perf_counter() - start

    for arm in args.arms:
        spec = ARMS[arm]
        entry = record["arms"].setdefault(arm, {})
        entry.update({k: v for k, v in spec.items() if k != "candidates"})
        sweep = {}
        if args.more_seeds:
            pass
        elif spec["candidates"] == "full's":
            entry.update(
                {
                    "sweep_on_validation": "full's learning rate",
                    "learning_rate": record["arms"]["full"]["learning_rate"],
                    "runs": [],
                }
            )
        for learning_rate in (
            spec["candidates"]
            if isinstance(spec["candidates"], list) and not args.more_seeds
            else []
        ):
            print(
                f"== {arm}: learning rate {learning_rate} on validation ({SWEEP_EPOCHS} epoch)",
                flush=True,
            )
            _, curve, seconds = run(arm, learning_rate, round(SWEEP_EPOCHS * steps_per_epoch), 0)
            sweep[str(learning_rate)] = {
                "val_loss": curve[-1]["val_loss"],
                "val_exact_match": curve[-1]["val_exact_match"],
                "seconds": round(seconds, 1),
            }
        if sweep:
            chosen = min(spec["candidates"], key=lambda lr: sweep[str(lr)]["val_loss"])
            entry.update(
                {
                    "sweep_on_validation": sweep,
                    "sweep_epochs": SWEEP_EPOCHS,
                    "learning_rate": chosen,
                    "runs": [],
                }
            )
        chosen = entry["learning_rate"]
        for seed in range(
            1 if args.more_seeds else 0, args.seeds if arm in ("full", "lora") else 1
        ):
            print(
                f"== {arm}: learning rate {chosen}, {args.epochs} epochs, seed {seed}", flush=True
            )
            model, curve, seconds = run(arm, chosen, args.epochs * steps_per_epoch, seed)
            responses = ft.greedy_decode_from_agreement(model, test, end_id, MAX_NEW_TOKENS)
            scores = ft.summary_scores(
                [tokenizer.decode(ids) for ids in responses], data.test.summaries
            )
            scores["exact_match_teacher_forced"] = float(
                ft.teacher_forced_exact_match(model, test).mean()
            )
            result = {
                "seed": seed,
                "seconds": round(seconds, 1),
                "curve": curve,
                "test": scores,
                "pretraining_val_loss": float(
                    make_evaluator(model, val_ids, config.sequence_length, VAL_TOKENS)()
                ),
            }
            print(json.dumps({k: v for k, v in result.items() if k != "curve"}), flush=True)
            entry["runs"].append(result)
            if seed == 0:
                model.save_weights(args.out / f"summariser_{arm}.weights.h5")
            record_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    record_path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

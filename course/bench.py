"""Time the course's models on this machine.

    python -m course.bench gpt [--layers L --heads H --d-model D --seq-len T --batch B --vocab V --steps N]
    python -m course.bench compare --torch-python PYTHON [--rounds R] [the same model options]

``gpt`` times training steps of the chapter-5 mini GPT on random token batches
with the architecture and optimiser of ``../shared/bench/torch_gpt_reference.py``
(nanoGPT: pre-layer-norm blocks, GELU MLP of width 4·d, learned positions, tied
embeddings, no dropout, AdamW with lr 1e-3), so the two can be compared side by
side. The last line is ``tokens_per_sec=<float> params=<int>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TORCH_REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "torch_gpt_reference.py"
MODEL_OPTIONS = ("layers", "heads", "d_model", "seq_len", "batch", "vocab", "steps")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course.bench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    g = commands.add_parser("gpt", help="tokens/s of mini-GPT training steps",
                            description="Time mini-GPT training steps; "
                                        "the last line is tokens_per_sec=<float> params=<int>.")
    g.add_argument("--layers", type=_positive_int, default=4, help="Transformer blocks (default: %(default)s)")
    g.add_argument("--heads", type=_positive_int, default=4, help="attention heads (default: %(default)s)")
    g.add_argument("--d-model", type=_positive_int, default=128, help="model width (default: %(default)s)")
    g.add_argument("--seq-len", type=_positive_int, default=64, help="context length (default: %(default)s)")
    g.add_argument("--batch", type=_positive_int, default=12, help="sequences per step (default: %(default)s)")
    g.add_argument("--vocab", type=_positive_int, default=65, help="vocabulary size (default: %(default)s)")
    g.add_argument("--steps", type=_positive_int, default=100, help="timed steps (default: %(default)s)")
    g.add_argument("--warmup", type=int, default=10,
                   help="untimed steps first, tracing included (default: %(default)s)")
    g.add_argument("--jit", choices=("on", "off"), default="on", help="XLA-compile the step (default: %(default)s)")
    g.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"), default="float32",
                   help="Keras dtype policy (default: %(default)s, as the PyTorch reference)")
    c = commands.add_parser("compare", help="Keras vs the PyTorch reference, alternating, median ratio",
                            description="Alternate `course.bench gpt` and the PyTorch reference; print the median ratio.")
    c.add_argument("--torch-python", required=True, help="a Python with torch installed (e.g. .venv-torch/bin/python)")
    c.add_argument("--reference", type=Path, default=TORCH_REFERENCE, help="the PyTorch script (default: %(default)s)")
    c.add_argument("--rounds", type=_positive_int, default=3, help="alternating rounds (default: %(default)s)")
    for action in g._actions:
        if action.dest in MODEL_OPTIONS:
            c.add_argument(*action.option_strings, type=action.type, default=action.default, help=action.help)
    c.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32",
                   help="Keras dtype policy; the reference always runs float32 (default: %(default)s)")
    return parser


def _last_tokens_per_sec(command: list) -> float:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("tokens_per_sec=")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(command[:3])} … failed (exit {result.returncode}): {result.stderr[-1500:]}")
    return float(lines[-1].split()[0].split("=")[1])


def compare(args) -> dict:
    """Alternate the Keras and PyTorch benchmarks ``args.rounds`` times; return medians and their ratio."""
    if not args.reference.exists():
        raise SystemExit(f"error: the PyTorch reference {args.reference} is missing (it lives in ../shared/bench)")
    model = []
    for name in MODEL_OPTIONS:
        model += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    keras_command = [sys.executable, "-m", "course.bench", "gpt", *model, "--precision", args.precision]
    torch_command = [args.torch_python, str(args.reference), *model]
    keras_rates, torch_rates = [], []
    for round_number in range(1, args.rounds + 1):
        torch_rates.append(_last_tokens_per_sec(torch_command))
        keras_rates.append(_last_tokens_per_sec(keras_command))
        print(f"round {round_number}: keras {keras_rates[-1]:,.0f} tokens/s, torch {torch_rates[-1]:,.0f} tokens/s, "
              f"ratio {keras_rates[-1] / torch_rates[-1]:.2f}", flush=True)
    ratios = [k / t for k, t in zip(keras_rates, torch_rates)]
    return {"ratio": statistics.median(ratios), "keras": statistics.median(keras_rates),
            "torch": statistics.median(torch_rates)}


def bench_gpt(layers=4, heads=4, d_model=128, seq_len=64, batch=12, vocab=65, steps=100, warmup=10, jit=True,
              precision="float32") -> dict:
    """Train the mini GPT on random batches; returns tokens/s, milliseconds per step and the parameter count."""
    import keras
    import tensorflow as tf

    from solutions.gpt import GPTConfig, build_gpt, per_sequence_loss

    keras.mixed_precision.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model = build_gpt(GPTConfig(vocab, seq_len, layers, heads, d_model))
    optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01, epsilon=1e-8)  # torch.optim.AdamW's defaults
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=jit)
    def train_step(step):
        seed = tf.stack([tf.constant(0, tf.int64), tf.cast(step, tf.int64)])
        ids = tf.random.stateless_uniform((batch, seq_len + 1), seed=seed, maxval=vocab, dtype=tf.int32)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(per_sequence_loss(ids[:, 1:], model(ids[:, :-1], training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    for i in range(max(warmup, 1)):
        train_step(tf.constant(i)).numpy()
    start = time.perf_counter()
    for i in range(steps):
        loss = train_step(tf.constant(warmup + i))
    loss.numpy()  # wait for the last step
    seconds = time.perf_counter() - start
    return {"tokens_per_sec": batch * seq_len * steps / seconds, "step_ms": 1e3 * seconds / steps,
            "params": int(model.count_params()), "loss": float(loss)}


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if args.command == "compare":
        result = compare(args)
        print(f"median of {args.rounds} alternating rounds: keras {result['keras']:,.0f} tokens/s, "
              f"torch {result['torch']:,.0f} tokens/s")
        print(f"ratio={result['ratio']:.3f} keras_tokens_per_sec={result['keras']:.1f} "
              f"torch_tokens_per_sec={result['torch']:.1f}", flush=True)
        return
    result = bench_gpt(args.layers, args.heads, args.d_model, args.seq_len, args.batch, args.vocab, args.steps,
                       args.warmup, args.jit == "on", args.precision)
    print(f"layers={args.layers} heads={args.heads} d_model={args.d_model} seq_len={args.seq_len} batch={args.batch} "
          f"vocab={args.vocab} jit={args.jit} precision={args.precision} cpus={os.cpu_count()}")
    print(f"step_ms={result['step_ms']:.2f}")
    print(f"tokens_per_sec={result['tokens_per_sec']:.1f} params={result['params']}", flush=True)


if __name__ == "__main__":
    main()

"""Time the course's models on this machine.

    python -m course.bench gpt [--layers L --heads H --d-model D --seq-len T --batch B --vocab V
                               --steps N]
    python -m course.bench compare --torch-python PYTHON [--rounds R] [the same model options]
    python -m course.bench fit [--path fast|plain|both] [--rounds R] [--steps N]

``gpt`` times training steps of the chapter-5 mini GPT on random token batches
with the architecture and optimiser of the repository's PyTorch reference,
``bench/torch_gpt_reference.py`` (nanoGPT: pre-layer-norm blocks, GELU MLP of
width 4·d, learned positions, tied embeddings, no dropout, AdamW with lr 1e-3),
so the two can be compared side by side. The last line is
``tokens_per_sec=<float> params=<int>``.

``fit`` times chapter 5's own training run (section 4: ``model.fit`` on the course
corpus, validation every 25 steps) to its validation loss: on the chapter's fast
path (XLA, ``steps_per_execution``), on Keras's defaults (no XLA on a CPU-only
machine, one step per call), or both alternately in fresh processes. Its last line
is ``seconds=<float> val_loss=<float> …`` (one path) or ``speedup=<float> …`` (both).
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

from course.gpt import positive_int

ROOT = Path(__file__).resolve().parent.parent
# in the repository: make bench needs nothing beside it
TORCH_REFERENCE = ROOT / "bench" / "torch_gpt_reference.py"
# What each option of `gpt` (and `compare`) means; its defaults are those of bench_gpt.
MODEL_OPTIONS = {
    "layers": "Transformer blocks",
    "heads": "attention heads",
    "d_model": "model width",
    "seq_len": "context length",
    "batch": "sequences per step",
    "vocab": "vocabulary size",
    "steps": "timed steps",
}
# What each option of `fit` means; its defaults are those of bench_fit, chapter 5's training run.
FIT_OPTIONS = {
    "steps": "optimizer steps",
    "steps_per_epoch": "steps between validations",
    "layers": "Transformer blocks",
    "heads": "attention heads",
    "d_model": "model width",
    "seq_len": "context length",
    "batch": "sequences per step",
    "val_tokens": "validation targets",
}


def add_options(parser, function, options: dict, note: str = "") -> None:
    """``--name`` for each of ``options`` ({name: what it means}), a positive int defaulting to
    ``function``'s default for that parameter."""
    defaults = inspect.signature(function).parameters
    for name, what in options.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=positive_int,
            default=defaults[name].default,
            help=f"{what} (default: %(default)s{note})",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course.bench", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    g = commands.add_parser(
        "gpt",
        help="tokens/s of mini-GPT training steps",
        description="Time mini-GPT training steps; "
        "the last line is tokens_per_sec=<float> params=<int>.",
    )
    add_options(g, bench_gpt, MODEL_OPTIONS)
    g.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="untimed steps first, tracing included (default: %(default)s)",
    )
    g.add_argument(
        "--jit",
        choices=("on", "off"),
        default="on",
        help="XLA-compile the step (default: %(default)s)",
    )
    g.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
        default="float32",
        help="Keras dtype policy (default: %(default)s, as the PyTorch reference)",
    )
    c = commands.add_parser(
        "compare",
        help="Keras vs the PyTorch reference, alternating, median ratio",
        description="Alternate `course.bench gpt` and the PyTorch reference; print the median "
        "ratio.",
    )
    c.add_argument(
        "--torch-python",
        required=True,
        help="a Python with torch installed (e.g. .venv-torch/bin/python)",
    )
    c.add_argument(
        "--reference",
        type=Path,
        default=TORCH_REFERENCE,
        help="the PyTorch script (default: the repository's bench/torch_gpt_reference.py)",
    )
    c.add_argument(
        "--rounds", type=positive_int, default=3, help="alternating rounds (default: %(default)s)"
    )
    add_options(c, bench_gpt, MODEL_OPTIONS)
    c.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16"),
        default="float32",
        help="Keras dtype policy; the reference always runs float32 (default: %(default)s)",
    )
    f = commands.add_parser(
        "fit",
        help="chapter 5's model.fit run: time to its validation loss, fast vs plain",
        description="Time chapter 5's training run (section 4) to its validation loss.",
    )
    f.add_argument(
        "--path",
        choices=("fast", "plain", "both"),
        default="both",
        help="fast: XLA and steps_per_execution, as the chapter trains; plain: Keras's defaults; "
        "both: alternate the two in fresh processes (default: %(default)s)",
    )
    f.add_argument(
        "--rounds",
        type=positive_int,
        default=3,
        help="alternating rounds with --path both (default: %(default)s)",
    )
    add_options(f, bench_fit, FIT_OPTIONS, ", as in the chapter")
    return parser


def _last_tokens_per_sec(command: list) -> float:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("tokens_per_sec=")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(command[:3])} … failed (exit {result.returncode}): {result.stderr[-1500:]}"
        )
    return float(lines[-1].split()[0].split("=")[1])


def compare(args) -> dict:
    """Alternate the Keras and PyTorch benchmarks ``args.rounds`` times; return medians and their
    ratio."""
    if not args.reference.exists():
        raise SystemExit(
            f"error: the PyTorch reference {args.reference} is missing "
            "(the repository keeps it in bench/torch_gpt_reference.py)"
        )
    model = []
    for name in MODEL_OPTIONS:
        model += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    keras_command = [
        sys.executable,
        "-m",
        "course.bench",
        "gpt",
        *model,
        "--precision",
        args.precision,
    ]
    torch_command = [args.torch_python, str(args.reference), *model]
    keras_rates, torch_rates = [], []
    for round_number in range(1, args.rounds + 1):
        torch_rates.append(_last_tokens_per_sec(torch_command))
        keras_rates.append(_last_tokens_per_sec(keras_command))
        print(
            f"round {round_number}: keras {keras_rates[-1]:,.0f} tokens/s, torch "
            f"{torch_rates[-1]:,.0f} tokens/s, "
            f"ratio {keras_rates[-1] / torch_rates[-1]:.2f}",
            flush=True,
        )
    ratios = [k / t for k, t in zip(keras_rates, torch_rates)]
    return {
        "ratio": statistics.median(ratios),
        "keras": statistics.median(keras_rates),
        "torch": statistics.median(torch_rates),
    }


def bench_gpt(
    layers=4,
    heads=4,
    d_model=128,
    seq_len=64,
    batch=12,
    vocab=65,
    steps=100,
    warmup=10,
    jit=True,
    precision="float32",
) -> dict:
    """Train the mini GPT on random batches; returns tokens/s, milliseconds per step and the
    parameter count."""
    # Keras and TensorFlow load here, in the process that times them: `compare` and `fit --path
    # both` only start fresh processes and never load TensorFlow themselves.
    import keras
    import tensorflow as tf

    from tinyllm.gpt import GPT, GPTConfig, per_sequence_loss

    keras.mixed_precision.set_dtype_policy(precision)
    keras.utils.set_random_seed(0)
    model = GPT(GPTConfig(vocab, seq_len, layers, heads, d_model))
    # torch.optim.AdamW's defaults
    optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01, epsilon=1e-8)
    optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    @tf.function(jit_compile=jit)
    def train_step(step):
        seed = tf.stack([tf.constant(0, tf.int64), tf.cast(step, tf.int64)])
        ids = tf.random.stateless_uniform(
            (batch, seq_len + 1), seed=seed, maxval=vocab, dtype=tf.int32
        )
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
    return {
        "tokens_per_sec": batch * seq_len * steps / seconds,
        "step_ms": 1e3 * seconds / steps,
        "params": int(model.count_params()),
        "loss": float(loss),
    }


def require_whole_epochs(steps: int, steps_per_epoch: int) -> None:
    if steps % steps_per_epoch:
        raise ValueError(
            f"--steps {steps} must be a multiple of --steps-per-epoch {steps_per_epoch}"
        )


def bench_fit(
    fast=True,
    steps=300,
    steps_per_epoch=25,
    layers=3,
    heads=4,
    d_model=96,
    seq_len=64,
    batch=32,
    val_tokens=16_384,
) -> dict:
    """Chapter 5's ``model.fit`` run, timed: the validation loss after every ``steps_per_epoch``
    steps and when.

    ``fast`` compiles as the chapter does (``jit_compile=True``, ``steps_per_execution``);
    otherwise ``compile`` keeps Keras's defaults. Returns ``seconds`` (the whole ``fit``,
    tracing and validation included), ``val_loss`` (the last), ``curve`` [(step, val_loss,
    seconds)], ``jit`` (whether Keras compiled with XLA) and ``tokens_per_sec``.
    """
    require_whole_epochs(steps, steps_per_epoch)
    import keras

    from course.data import load_text
    from tinyllm.distributed import fit_dataset, validation_dataset
    from tinyllm.gpt import GPT, GPTConfig
    from tinyllm.text_data import prepare_text

    data = prepare_text(load_text(), seq_len)
    keras.utils.set_random_seed(0)
    model = GPT(GPTConfig(data.vocabulary_size, seq_len, layers, heads, d_model))
    fast_settings = {"jit_compile": True, "steps_per_execution": steps_per_epoch} if fast else {}
    model.compile(
        optimizer=keras.optimizers.AdamW(2e-3, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **fast_settings,
    )
    curve = []
    start = time.perf_counter()
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: curve.append(
            ((epoch + 1) * steps_per_epoch, float(logs["val_loss"]), time.perf_counter() - start)
        )
    )
    with warnings.catch_warnings():
        # Keras 3.15 on a tf.data input
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        model.fit(
            fit_dataset(data.train_ids, seq_len, batch, seed=0, steps=steps),
            epochs=steps // steps_per_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=[record],
            verbose=0,
            validation_data=validation_dataset(data.val_ids, seq_len, max_tokens=val_tokens),
        )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "val_loss": curve[-1][1],
        "curve": curve,
        "jit": bool(model.jit_compile),
        "tokens_per_sec": steps * batch * seq_len / seconds,
    }


def _fit_run(command: list) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} … failed (exit {result.returncode}): {result.stderr[-1500:]}"
        )
    lines = result.stdout.splitlines()
    curve = [
        tuple(float(field.split("=")[1]) for field in line.split()[1:])
        for line in lines
        if line.startswith("epoch ")
    ]
    return {
        **{k: float(v) for k, v in (field.split("=") for field in lines[-1].split())},
        "curve": curve,
    }


def compare_fit(args) -> dict:
    """Alternate the plain and fast paths of :func:`bench_fit` in fresh processes; medians and their
    ratio.

    ``plain_val_loss_in_fast_time``: the validation loss the plain run had reached (at its last
    validation) when the fast run of the same round had finished — quality at a fixed time budget.
    """
    options = []
    for name in FIT_OPTIONS:
        options += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    runs = {"plain": [], "fast": []}
    for round_number in range(1, args.rounds + 1):
        for path in ("plain", "fast"):
            runs[path].append(
                _fit_run([sys.executable, "-m", "course.bench", "fit", "--path", path, *options])
            )
        plain, fast = runs["plain"][-1], runs["fast"][-1]
        reached = [loss for _, loss, seconds in plain["curve"] if seconds <= fast["seconds"]]
        fast["plain_val_loss_then"] = reached[-1] if reached else float("nan")
        print(
            f"round {round_number}: fast {fast['seconds']:.1f} s to val_loss "
            f"{fast['val_loss']:.4f}, "
            f"plain {plain['seconds']:.1f} s to val_loss {plain['val_loss']:.4f}; in the fast "
            "path's "
            f"{fast['seconds']:.1f} s plain fit reached val_loss {fast['plain_val_loss_then']:.4f}",
            flush=True,
        )

    def median(path, key):
        return statistics.median(run[key] for run in runs[path])

    return {
        "speedup": statistics.median(
            p["seconds"] / f["seconds"] for p, f in zip(runs["plain"], runs["fast"])
        ),
        "fast_seconds": median("fast", "seconds"),
        "plain_seconds": median("plain", "seconds"),
        "fast_val_loss": median("fast", "val_loss"),
        "plain_val_loss": median("plain", "val_loss"),
        "plain_val_loss_in_fast_time": median("fast", "plain_val_loss_then"),
    }


def cpu_name() -> str:
    """The CPU's model name (speeds are only comparable on one CPU), e.g. "AMD EPYC"; "unknown" if
    not found."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command in ("compare", "fit") and getattr(args, "path", "both") == "both":
        print(f"cpu: {cpu_name()}, {os.cpu_count()} cores", flush=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if args.command == "compare":
        result = compare(args)
        print(
            f"median of {args.rounds} alternating rounds: keras {result['keras']:,.0f} tokens/s, "
            f"torch {result['torch']:,.0f} tokens/s"
        )
        print(
            f"ratio={result['ratio']:.3f} keras_tokens_per_sec={result['keras']:.1f} "
            f"torch_tokens_per_sec={result['torch']:.1f}",
            flush=True,
        )
        return
    if args.command == "fit":
        fit_main(args)
        return
    result = bench_gpt(
        args.layers,
        args.heads,
        args.d_model,
        args.seq_len,
        args.batch,
        args.vocab,
        args.steps,
        args.warmup,
        args.jit == "on",
        args.precision,
    )
    print(
        f"layers={args.layers} heads={args.heads} d_model={args.d_model} seq_len={args.seq_len} "
        f"batch={args.batch} "
        f"vocab={args.vocab} jit={args.jit} precision={args.precision} cpus={os.cpu_count()}"
    )
    print(f"step_ms={result['step_ms']:.2f}")
    print(f"tokens_per_sec={result['tokens_per_sec']:.1f} params={result['params']}", flush=True)


def fit_main(args):
    try:
        # before any run, also the subprocesses of "both"
        require_whole_epochs(args.steps, args.steps_per_epoch)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    if args.path == "both":
        result = compare_fit(args)
        print(
            f"median of {args.rounds} alternating rounds: fast {result['fast_seconds']:.1f} s, "
            f"plain {result['plain_seconds']:.1f} s"
        )
        print(" ".join(f"{key}={value:.4f}" for key, value in result.items()), flush=True)
        return
    # Op determinism stays off, as chapter 5 sets it up: Keras would silently refuse XLA under it.
    options = {name: getattr(args, name) for name in FIT_OPTIONS}
    result = bench_fit(fast=args.path == "fast", **options)
    print(
        f"path={args.path} jit={result['jit']} "
        + " ".join(f"{k}={v}" for k, v in options.items())
        + f" cpus={os.cpu_count()}"
    )
    for step, loss, seconds in result["curve"]:
        print(f"epoch step={step} val_loss={loss:.6f} seconds={seconds:.2f}")
    print(
        f"seconds={result['seconds']:.2f} val_loss={result['val_loss']:.6f} "
        f"tokens_per_sec={result['tokens_per_sec']:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

"""Train and sample the chapter-5 mini GPT from the command line.

    python -m course.gpt train [--text FILE] [--strategy default|mirrored|multiworker]
                               [--replicas N]
                               [--steps N] [--global-batch B] [--seed S] [--out DIR]
                               [--tokenizer char|bpe] [--vocab-size N] ...
    python -m course.gpt sample --out DIR --prompt TEXT [--max-tokens N --temperature T --top-k K
                                --top-p P --seed S]

``train`` uses the course corpus unless ``--text`` names a UTF-8 file of your own.
``--strategy mirrored`` uses every local GPU, or ``--replicas`` logical CPU devices
where there is none; ``multiworker`` reads the standard ``TF_CONFIG`` (start one
process per worker, e.g. with :func:`run_local_workers`). ``--steps`` is the
run's total number of optimizer steps, ``--global-batch`` its batch summed over
every replica and worker. ``--out`` keeps checkpoints, TensorBoard logs
(``tensorboard --logdir DIR/logs``) and the final weights; starting again with
the same ``--out`` resumes and continues to ``--steps``. The last line printed
is ``val_loss=<float>`` (mean next-token cross-entropy, nats, on the validation split).
``--tokenizer bpe`` trains chapter 8's byte-level BPE (``--vocab-size`` ids) on the training split
first, keeps it in ``--out`` (``tokenizer.json``), and ``sample`` encodes and decodes with it;
``val_loss`` is then in nats per BPE token, and the line before it gives nats per character.

The helpers at the bottom start a multi-worker job on this machine (one process
per worker on 127.0.0.1, free ports, a hard time limit, SIGKILL of the whole
process group when it runs out): the notebook and the tests use them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STRATEGIES = ("default", "mirrored", "multiworker")
DEFAULT_BPE_VOCABULARY = 400  # the course corpus allows at most 499 (100 distinct pre-tokens)
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def positive_int(text: str) -> int:
    """argparse's type for a count: a clear error for text that is not a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _vocabulary_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 256:
        raise argparse.ArgumentTypeError(
            f"a byte-level BPE vocabulary holds the 256 byte values and the merges "
            f"learned on top, so it must be at least 256, got {value}"
        )
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course.gpt", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    t = commands.add_parser(
        "train",
        help="train the mini GPT (resumes from --out)",
        description="Train the chapter-5 mini GPT; the last line is val_loss=<float>.",
    )
    t.add_argument("--text", help="a UTF-8 text file to train on (default: the course corpus)")
    t.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="default: one device; mirrored: every local GPU or --replicas logical CPUs; "
        "multiworker: the cluster in TF_CONFIG (default: %(default)s)",
    )
    t.add_argument(
        "--replicas",
        type=positive_int,
        default=2,
        help="logical CPU devices for --strategy mirrored on a machine without GPUs (default: "
        "%(default)s)",
    )
    t.add_argument(
        "--steps",
        type=positive_int,
        default=1000,
        help="total optimizer steps (default: %(default)s)",
    )
    t.add_argument(
        "--global-batch",
        type=positive_int,
        default=32,
        help="sequences per step, summed over all replicas and workers (default: %(default)s)",
    )
    t.add_argument(
        "--seed", type=int, default=0, help="initial weights and batch order (default: %(default)s)"
    )
    t.add_argument(
        "--out", help="directory for checkpoints, logs and weights; the same --out resumes"
    )
    t.add_argument(
        "--tokenizer",
        choices=("char", "bpe"),
        default="char",
        help="char: one id per character of the text; bpe: byte-level BPE trained on the training "
        "split and kept in --out (default: %(default)s)",
    )
    t.add_argument(
        "--vocab-size",
        type=_vocabulary_size,
        default=None,
        help="--tokenizer bpe: vocabulary size, 256 bytes + merges (default: "
        f"{DEFAULT_BPE_VOCABULARY})",
    )
    model = t.add_argument_group("model")
    for flag, default, what in (
        ("--seq-len", 64, "context length T"),
        ("--layers", 4, "Transformer blocks"),
        ("--heads", 4, "attention heads"),
        ("--d-model", 128, "model width"),
    ):
        model.add_argument(
            flag, type=positive_int, default=default, help=f"{what} (default: %(default)s)"
        )
    run = t.add_argument_group("run")
    run.add_argument(
        "--learning-rate",
        type=float,
        default=2e-3,
        help="AdamW learning rate (default: %(default)s)",
    )
    run.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: mixed_float16 on a GPU, mixed_bfloat16 on a CPU with AMX bfloat16 units, "
        "float32 otherwise (default: %(default)s)",
    )
    run.add_argument(
        "--jit",
        choices=("auto", "on", "off"),
        default="auto",
        help="XLA-compile the training step; auto: on with one device (default: %(default)s)",
    )
    run.add_argument(
        "--eval-every",
        type=int,
        default=250,
        help="print validation loss and a sample every N steps; 0: only at the end (default: "
        "%(default)s)",
    )
    run.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=100,
        help="save a checkpoint every N steps (default: %(default)s)",
    )
    run.add_argument(
        "--val-tokens",
        type=positive_int,
        default=65_536,
        help="validation targets evaluated, from the start of the validation split (default: "
        "%(default)s)",
    )
    run.add_argument(
        "--peer-timeout",
        type=float,
        default=600.0,
        help="multiworker: exit (status 1) when the first step has not finished after this many "
        "seconds, e.g. because a worker never started; 0 waits forever (default: %(default)s)",
    )
    run.add_argument(
        "--quiet", action="store_true", help="no progress bar or samples, only the last line"
    )

    s = commands.add_parser(
        "sample",
        help="continue a prompt with a trained model",
        description="Print a prompt and the trained model's continuation.",
    )
    s.add_argument("--out", required=True, help="the --out directory of a training run")
    s.add_argument(
        "--prompt", required=True, help="text to continue (characters of the training text)"
    )
    s.add_argument(
        "--max-tokens",
        type=positive_int,
        default=200,
        help="characters to generate (default: %(default)s)",
    )
    s.add_argument(
        "--temperature", type=float, default=0.8, help="0 is greedy decoding (default: %(default)s)"
    )
    s.add_argument(
        "--top-k", type=positive_int, default=None, help="sample among the k most likely tokens"
    )
    s.add_argument(
        "--top-p", type=_probability, default=None, help="sample from the nucleus of mass p"
    )
    s.add_argument("--seed", type=int, default=0, help="sampling seed (default: %(default)s)")
    return parser


def _fail(message: str, code: int = 2):
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def command_train(args) -> float:
    # The text first (plain Python, no TensorFlow op), so a bad file fails at once.
    from course.data import corpus_info, load_text
    from tinyllm.text_data import prepare_text

    name = args.text or "the course corpus"
    try:
        text = load_text(args.text, min_chars=2 * (args.seq_len + 1))
        data = prepare_text(text, args.seq_len, name=f"--text {args.text}" if args.text else name)
    except (FileNotFoundError, ValueError) as error:
        _fail(f"--text: {error}" if args.text and "--text" not in str(error) else str(error))
    if args.vocab_size is not None and args.tokenizer != "bpe":
        _fail("--vocab-size is the size of a BPE vocabulary: add --tokenizer bpe")
    if args.tokenizer == "bpe":
        data = _bpe_data(text, args.vocab_size or DEFAULT_BPE_VOCABULARY, args.seq_len, name)

    # Then the strategy: logical CPU devices and MultiWorkerMirroredStrategy must exist before any
    # other TF op.
    from course.runs import PeerWatchdog
    from tinyllm.distributed import is_chief, make_strategy, worker_info

    watchdog = None
    if args.strategy == "multiworker":
        kind, index, workers = worker_info()
        watchdog = PeerWatchdog(
            args.peer_timeout, f"{kind} {index}: waiting for the {workers} workers of TF_CONFIG"
        )
    try:
        strategy = make_strategy(args.strategy, args.replicas)
    except ValueError as error:
        _fail(str(error))

    from course.runs import RunConfig, environment_summary, text_fingerprint, train
    from tinyllm.distributed import choose_precision
    from tinyllm.gpt import GPTConfig, parameter_count
    from tinyllm.text_data import baselines

    try:
        config = GPTConfig(
            data.vocabulary_size, args.seq_len, args.layers, args.heads, args.d_model
        )
    except ValueError as error:
        _fail(str(error))
    if args.global_batch % strategy.num_replicas_in_sync:
        _fail(
            f"--global-batch {args.global_batch} must be a multiple of the "
            f"{strategy.num_replicas_in_sync} "
            "replicas in sync"
        )
    precision = choose_precision(args.precision)
    # XLA compiles the step on one device only (it fails under MirroredStrategy): what runs is
    # reported as run.
    one_device = strategy.num_replicas_in_sync == 1
    jit = args.jit != "off" and one_device
    xla = (
        "on"
        if jit
        else ("off (XLA is not used with several replicas)" if args.jit == "on" else "off")
    )
    run = RunConfig(
        steps=args.steps,
        global_batch=args.global_batch,
        seed=args.seed,
        learning_rate=args.learning_rate,
        precision=precision,
        jit_compile=jit,
        checkpoint_every=args.checkpoint_every,
        eval_every=max(args.eval_every, 0),
        val_tokens=args.val_tokens,
    )
    chief = args.strategy != "multiworker" or is_chief()
    verbose = not args.quiet
    unit = "token" if args.tokenizer == "bpe" else "char"
    if verbose and chief:
        rates = baselines(data)
        entropy = (
            f", entropy rate {corpus_info()['entropy_rate_nats_per_char']:.3f} nats/char"
            if not args.text
            else ""
        )
        print(
            f"text: {name}, {len(text):,} characters, vocabulary {data.vocabulary_size}"
            + (
                f" (byte-level BPE, {len(data.val_ids):,} validation tokens)"
                if unit == "token"
                else ""
            )
        )
        print(
            f"devices: {environment_summary()}; strategy {args.strategy}, "
            f"{strategy.num_replicas_in_sync} "
            "replica(s) in sync, per-replica batch "
            f"{args.global_batch // strategy.num_replicas_in_sync}; "
            f"precision {precision}; XLA {xla}"
        )
        print(
            f"model: {parameter_count(config)['total']:,} parameters; baselines (nats/{unit}): "
            f"unigram {rates['unigram']:.3f}, bigram {rates['bigram']:.3f}{entropy}",
            flush=True,
        )
    try:
        result = train(
            strategy,
            data,
            config,
            run,
            out=args.out,
            text_id=text_fingerprint(text),
            verbose=verbose,
            watchdog=watchdog,
        )
    except ValueError as error:
        _fail(str(error))
    if (
        verbose
        and chief
        and result.steps > result.start_step
        and result.tokens_per_sec == result.tokens_per_sec
    ):
        print(
            f"trained steps {result.start_step + 1}…{result.steps}: {result.tokens_per_sec:,.0f} "
            "tokens/s"
        )
    if unit == "token" and chief:
        n = (
            min(len(data.val_ids) - 1, run.val_tokens or len(data.val_ids))
            // args.seq_len
            * args.seq_len
        )
        characters = len(data.tokenizer.decode(data.val_ids[1 : n + 1]))
        print(
            f"validation: {result.val_loss:.4f} nats/token × {n:,} tokens / {characters:,} "
            "characters = "
            f"{result.val_loss * n / characters:.4f} nats/char",
            flush=True,
        )
    print(f"val_loss={result.val_loss:.6f}", flush=True)
    return result.val_loss


def _bpe_data(text: str, vocabulary_size: int, sequence_length: int, name: str):
    """Chapter 8's byte-level BPE trained on the training split only, and the two splits encoded
    with it."""
    from tinyllm.bpe import train_bpe
    from tinyllm.text_data import TextData, split_text

    train_part, val_part = split_text(text)
    try:
        tokenizer = train_bpe(train_part, vocabulary_size)
    except ValueError as error:
        _fail(f"--vocab-size {vocabulary_size}: {error} (the training split of {name})")
    data = TextData(tokenizer, tokenizer.encode(train_part), tokenizer.encode(val_part))
    if min(len(data.train_ids), len(data.val_ids)) < sequence_length + 1:
        _fail(
            f"{name} is too short for a context of {sequence_length} BPE tokens: its training and "
            "validation "
            f"parts have {len(data.train_ids)} and {len(data.val_ids)} tokens, each needs at least "
            f"{sequence_length + 1} (a longer text, a smaller --vocab-size or a shorter --seq-len)"
        )
    return data


def command_sample(args) -> str:
    from course.runs import load_trained
    from tinyllm.kv_cache import cached_next_token_logits
    from tinyllm.sampling import generate_text

    if args.temperature < 0:
        _fail(f"--temperature must be ≥ 0 (0 is greedy), got {args.temperature}")
    try:
        model, tokenizer, _ = load_trained(args.out)
    except (FileNotFoundError, ValueError) as error:
        _fail(str(error))
    if args.top_k is not None and args.top_k > tokenizer.vocabulary_size:
        _fail(
            f"--top-k must be at most the vocabulary size {tokenizer.vocabulary_size}, got "
            f"{args.top_k}"
        )
    try:
        tokenizer.encode(args.prompt)
    except ValueError as error:
        _fail(f"--prompt: {error}")
    if not args.prompt:
        _fail("--prompt must contain at least one character")
    text = generate_text(
        model,
        tokenizer,
        args.prompt,
        args.max_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        next_logits=cached_next_token_logits,
    )
    print(text, flush=True)
    return text


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if args.command == "train":
        command_train(args)
    else:
        command_sample(args)


# ------------------------------------------------------------------------ local multi-worker jobs


def free_ports(count: int) -> list:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def tf_config(ports: list, index: int) -> str:
    """TF_CONFIG of worker ``index`` in a cluster of workers on 127.0.0.1 at ``ports``."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


@dataclass
class ProcessResult:
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    pid: int = 0  # also the id of its process group

    @property
    def killed(self) -> bool:
        return self.returncode is None

    @property
    def last_line(self) -> str:
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""


def run_processes(commands: list, envs: list, timeout: float, cwd=None) -> list:
    """Run the commands at once, each in its own process group; SIGKILL every group still running at
    ``timeout``.

    A multi-worker TensorFlow process waiting for a missing peer ignores SIGTERM,
    so the whole group is killed outright. Output goes to files (no pipe can fill up).
    """
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        running = []
        for i, (command, env) in enumerate(zip(commands, envs)):
            out, err = open(Path(tmp) / f"{i}.out", "w+"), open(Path(tmp) / f"{i}.err", "w+")
            process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True
            )
            running.append((process, out, err))
        results = []
        for process, out, err in running:
            try:
                code = process.wait(timeout=max(0.0, timeout - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                code = None
                kill_group(process)
            results.append((process, code, out, err))
        outputs = []
        for process, code, out, err in results:
            out.seek(0)
            err.seek(0)
            outputs.append(
                ProcessResult(code, out.read(), err.read(), time.monotonic() - start, process.pid)
            )
            out.close()
            err.close()
    return outputs


def kill_group(process) -> None:
    """SIGKILL ``process`` and every process of its group, then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_local_workers(
    train_args: list,
    workers: int = 2,
    timeout: float = 300.0,
    start: list | None = None,
    env: dict | None = None,
) -> list:
    """``python -m course.gpt train --strategy multiworker ...`` as ``workers`` processes on
    127.0.0.1.

    ``start`` lists the worker indices to actually start (default: all), so a test
    can leave a peer missing. Returns one :class:`ProcessResult` per started worker.
    """
    ports = free_ports(workers)
    indices = list(range(workers)) if start is None else list(start)
    base = dict(os.environ if env is None else env)
    base.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    commands, envs = [], []
    for index in indices:
        commands.append(
            [sys.executable, "-m", "course.gpt", "train", "--strategy", "multiworker", *train_args]
        )
        envs.append({**base, "TF_CONFIG": tf_config(ports, index)})
    return run_processes(commands, envs, timeout, cwd=Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    main()

"""Run directories of the mini GPT's command line: run file, checkpoints, resume, history,
TensorBoard.

``--out`` holds ``run.json`` (what fixes the run), ``checkpoints/`` (every weight by name, the
optimizer state and the step), ``logs/`` (TensorBoard), ``history.json`` and ``model.weights.h5``.
A run started again with the same directory resumes from its latest checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

from tinyllm.distributed import (
    distributed_batches,
    is_chief,
    make_evaluator,
    make_train_step,
    worker_info,
)
from tinyllm.gpt import GPT, GPTConfig
from tinyllm.sampling import generate_text
from tinyllm.tokenizers import CharTokenizer

RUN_FILE = "run.json"


CHECKPOINT_DIR = "checkpoints"


WEIGHTS_FILE = "model.weights.h5"
# A BPE run's tokenizer (chapter 8); a character run keeps its vocabulary in run.json.
TOKENIZER_FILE = "tokenizer.json"


HISTORY_FILE = "history.json"
OLD_MODEL_OPTIONS = {"mlp_units": None, "dropout": 0.0, "tie_embeddings": True}


@dataclass
class RunConfig:
    """What fixes a training run's result, besides the model shape and the text."""

    steps: int = 1000
    global_batch: int = 32
    seed: int = 0
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    precision: str = "float32"
    jit_compile: bool = (
        True  # XLA-compile the step on a single device (never under several replicas or workers)
    )
    checkpoint_every: int = 100
    eval_every: int = 0  # 0: evaluate (and sample) only at the end
    val_tokens: int | None = 65_536
    sample_prompt: str = ""
    sample_tokens: int = 120
    log_every: int = 10

    def identity(self) -> dict:
        """The settings a resumed run must share with the run it resumes."""
        return {
            "global_batch": self.global_batch,
            "seed": self.seed,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "precision": self.precision,
        }


@dataclass
class TrainResult:
    model: object
    val_loss: float
    start_step: int
    steps: int
    train_losses: list = field(default_factory=list)  # (step, loss)
    val_losses: list = field(default_factory=list)  # (step, val loss)
    samples: list = field(default_factory=list)  # (step, text)
    tokens_per_sec: float = float("nan")


def make_progress(total: int, start: int):
    """``update(step, loss)``: Keras's progress bar in a terminal, a plain line per 10% in a
    notebook or a log.

    A notebook gets plain lines because a saved notebook would keep every redrawn frame of a bar.
    """

    if sys.stdout.isatty():
        bar = keras.utils.Progbar(total, stateful_metrics=["loss"])
        bar.update(start)
        return lambda step, loss: bar.update(step, [("loss", loss)])
    every = max(1, total // 10)
    begun = time.perf_counter()

    def update(step, loss):
        if step % every == 0 or step == total:
            print(
                f"step {step}/{total}  loss {loss:.4f}  ({time.perf_counter() - begun:.0f} s)",
                flush=True,
            )

    return update


def text_fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_or_write_run_file(out: Path, record: dict, chief: bool) -> None:
    path = out / RUN_FILE
    if path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        for key in ("model", "run", "text", "vocabulary"):
            if saved.get(key) != record.get(key):
                raise ValueError(
                    f"{out} holds a run with a different {key} ({saved.get(key)!r} vs "
                    f"{record.get(key)!r}); "
                    "use a new --out directory, or the same settings to resume it"
                )
    elif chief:
        out.mkdir(parents=True, exist_ok=True)
        write_whole(
            path,
            lambda partial: partial.write_text(
                json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8"
            ),
        )


def write_whole(path: Path, write) -> None:
    """``write(partial)`` to a file beside ``path``, then rename it: the rename is atomic, so
    neither another worker nor a run resumed after a kill mid-write ever reads half a file."""
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.replace(partial, path)


class PeerWatchdog:
    """Ends the process when the first training step has not finished within ``seconds``.

    A multi-worker job waits for every worker named in TF_CONFIG — creating
    ``MultiWorkerMirroredStrategy`` already blocks until they all answer — and
    while it waits it holds Python's interpreter lock and ignores SIGTERM, so a
    Python timer thread could never fire. ``faulthandler``'s timer runs in C
    without that lock: at the deadline it prints where the process is stuck
    (stderr) and exits with status 1. Start it before the strategy.
    """

    def __init__(self, seconds: float | None, message: str):
        import faulthandler

        self.active = bool(seconds)
        if self.active:
            print(
                f"{message}; giving up after {seconds:g} s without a finished step",
                file=sys.stderr,
                flush=True,
            )
            faulthandler.dump_traceback_later(seconds, exit=True, file=sys.stderr)

    def cancel(self):
        import faulthandler

        if self.active:
            faulthandler.cancel_dump_traceback_later()
            self.active = False


class RunFiles:
    """What one worker keeps in ``--out`` (module docstring), or nothing at all without ``out``.

    The chief keeps its files in ``out`` itself; another worker in ``out/worker_<i>``, since two
    workers must not share a checkpoint directory. Only the chief writes the history and
    TensorBoard's logs.
    """

    def __init__(
        self,
        out=None,
        chief: bool = True,
        index: int = 0,
        record: dict | None = None,
        tokenizer=None,
    ):
        self.out, self.chief, self.manager, self.earlier, self.writer = None, chief, None, {}, None
        if out is None:
            return
        self.out = Path(out)
        self.own = self.out if chief else self.out / f"worker_{index}"
        self.own.mkdir(parents=True, exist_ok=True)
        _check_or_write_run_file(self.out, record, chief)
        if chief:
            if "tokenizer" in record:
                write_whole(self.out / TOKENIZER_FILE, tokenizer.save)
            self.writer = tf.summary.create_file_writer(str(self.out / "logs"))
            history = self.own / HISTORY_FILE
            self.earlier = json.loads(history.read_text()) if history.exists() else {}

    def restore(self, checkpoint) -> None:
        """Restore ``checkpoint`` from the chief's latest one, if any; this worker's saves go to its
        own folder."""
        if self.out is None:
            return
        # Every worker saves (saving may need all of them); only the chief's copy is the real one.
        self.manager = tf.train.CheckpointManager(
            checkpoint, str(self.own / CHECKPOINT_DIR), max_to_keep=2
        )
        latest = tf.train.latest_checkpoint(str(self.out / CHECKPOINT_DIR))
        if latest:
            restore_fully(checkpoint, latest)

    def log(self, step: int, **values) -> None:
        """TensorBoard scalars (floats) and texts (strings) at ``step``."""
        if self.writer is not None:
            with self.writer.as_default(step=step):
                for name, value in values.items():
                    (tf.summary.text if isinstance(value, str) else tf.summary.scalar)(name, value)

    def save_history(self, result: TrainResult) -> None:
        """The losses of this run, after those of the run it resumes up to its start."""
        if self.out is not None and self.chief:
            history = {
                key: [p for p in self.earlier.get(key, []) if p[0] <= result.start_step]
                + getattr(result, key + "es")
                for key in ("train_loss", "val_loss")
            }
            write_whole(
                self.own / HISTORY_FILE, lambda partial: partial.write_text(json.dumps(history))
            )

    def checkpoint(self, step: int, result: TrainResult) -> None:
        if self.manager is not None:
            self.manager.save(checkpoint_number=step)
            self.save_history(result)

    def finish(self, result: TrainResult) -> None:
        """The final weights (every worker, in its own folder), the last validation loss and the
        history."""
        if self.out is not None:
            result.model.save_weights(str(self.own / WEIGHTS_FILE))
        self.log(result.steps, val_loss=result.val_loss)
        if self.writer is not None:
            self.writer.flush()
        self.save_history(result)


def run_record(data, model_config, run: RunConfig, text_id: str) -> dict:
    """What ``run.json`` holds: the model, the run's identity, the text, and the vocabulary
    (characters) or a fingerprint of the BPE merges (chapter 8's tokenizer, kept whole in
    ``tokenizer.json``)."""
    record = {"model": asdict(model_config), "run": run.identity(), "text": text_id}
    if hasattr(data.tokenizer, "merges"):
        merges = json.dumps(data.tokenizer.merges).encode("utf-8")
        record["tokenizer"] = {
            "kind": "bpe",
            "file": TOKENIZER_FILE,
            "merges": hashlib.sha256(merges).hexdigest(),
        }
    else:
        record["vocabulary"] = "".join(data.tokenizer.vocabulary)
    return record


def train(
    strategy,
    data,
    model_config,
    run: RunConfig,
    out=None,
    text_id: str = "",
    verbose: bool = True,
    watchdog: PeerWatchdog | None = None,
    log=print,
) -> TrainResult:
    """Train a :class:`tinyllm.gpt.GPT` with a custom loop under ``strategy``; resume from ``out``.

    ``data`` is a :class:`tinyllm.text_data.TextData`. With ``out``, the chief keeps
    checkpoints (every ``run.checkpoint_every`` steps and at the end), the final
    weights, TensorBoard logs and the history there (:class:`RunFiles`). A run started
    again with the same ``out`` restores the latest checkpoint — weights, optimizer
    state and step — and continues to ``run.steps``; as the batches are a function of
    the step, it ends where an uninterrupted run does. A ``watchdog`` (started before
    the strategy, whose creation already waits for the other workers) is cancelled once
    the first step has run.
    """
    multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    _, index, workers = worker_info() if multiworker else ("worker", 0, 1)
    chief = workers == 1 or is_chief()
    say = log if (verbose and chief) else (lambda *a, **k: None)
    watchdog = watchdog or PeerWatchdog(None, "")
    record = run_record(data, model_config, run, text_id) if out is not None else None
    files = RunFiles(out, chief, index, record, data.tokenizer)

    keras.mixed_precision.set_dtype_policy(run.precision)
    keras.utils.set_random_seed(run.seed)
    with strategy.scope():
        model = GPT(model_config)
        optimizer = make_optimizer(model, run)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        checkpoint = weights_checkpoint(model, optimizer=optimizer, step=step)
    files.restore(checkpoint)
    result = TrainResult(model, float("nan"), int(step.numpy()), run.steps)
    if result.start_step:
        say(
            f"resuming from step {result.start_step} of {run.steps} (the latest checkpoint of "
            "--out)"
        )

    evaluate = make_evaluator(model, data.val_ids, model_config.sequence_length, run.val_tokens)
    prompt = run.sample_prompt or data.tokenizer.decode(data.val_ids[:1])

    def sample() -> str:
        return generate_text(
            model, data.tokenizer, prompt, run.sample_tokens, temperature=0.8, seed=run.seed
        )

    if result.start_step < run.steps:
        # XLA: one device only
        jit = run.jit_compile and strategy.num_replicas_in_sync == 1 and workers == 1
        train_step = make_train_step(strategy, model, optimizer, run.global_batch, jit_compile=jit)
        batches = distributed_batches(
            strategy,
            data.train_ids,
            model_config.sequence_length,
            run.global_batch,
            run.seed,
            result.start_step,
            run.steps,
        )
        progress = make_progress(run.steps, result.start_step) if (verbose and chief) else None
        timed_steps, seconds = run_steps(
            train_step,
            iter(batches),
            step,
            run,
            result,
            files,
            evaluate,
            sample,
            progress,
            say,
            watchdog,
        )
        if timed_steps:
            result.tokens_per_sec = (
                timed_steps * run.global_batch * model_config.sequence_length / seconds
            )
    watchdog.cancel()

    result.val_loss = evaluate()
    result.val_losses.append((run.steps, result.val_loss))
    files.finish(result)
    return result


def run_steps(
    train_step,
    iterator,
    step,
    run: RunConfig,
    result: TrainResult,
    files: RunFiles,
    evaluate,
    sample,
    progress,
    say,
    watchdog,
) -> tuple:
    """The loop: steps ``result.start_step + 1 … run.steps``, each logged every ``run.log_every``,
    evaluated and sampled every ``run.eval_every``, checkpointed every ``run.checkpoint_every`` and
    at the end. Returns ``(steps timed, seconds)``, from the second step on (the first one traces
    the graph)."""
    start = result.start_step
    timer, timed_steps = time.perf_counter(), 0
    for current in range(start + 1, run.steps + 1):
        loss = float(train_step(iterator))
        watchdog.cancel()
        step.assign(current)
        if current == start + 1:
            timer, timed_steps = time.perf_counter(), 0  # leave tracing out of the speed
        else:
            timed_steps += 1
        if current % run.log_every == 0 or current == run.steps:
            result.train_losses.append((current, loss))
            files.log(current, train_loss=loss)
        if progress is not None:
            progress(current, loss)
        if run.eval_every and current % run.eval_every == 0 and current != run.steps:
            val, text = evaluate(), sample()
            result.val_losses.append((current, val))
            result.samples.append((current, text))
            say(f"\nstep {current}: val_loss {val:.4f}\n  {text!r}")
            files.log(current, val_loss=val, sample=text)
        if current % run.checkpoint_every == 0 or current == run.steps:
            files.checkpoint(current, result)
    return timed_steps, time.perf_counter() - timer


def make_optimizer(model, run: RunConfig):
    """AdamW (decoupled weight decay), wrapped for loss scaling under mixed_float16, with its state
    built."""

    optimizer = keras.optimizers.AdamW(run.learning_rate, weight_decay=run.weight_decay)
    if run.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    return optimizer


def weights_checkpoint(model, **objects):
    """A ``tf.train.Checkpoint`` of every weight of ``model``, named by its path inside the model,
    plus ``objects``.

    Not ``tf.train.Checkpoint(model=model)``: Keras 3 keeps sub-layers held in a Python list (the
    GPT's blocks) out of TensorFlow's object graph (keras-team/keras#18398), so such a checkpoint
    silently lacks every Transformer block.
    """
    weights = {weight.path.removeprefix(model.name + "/"): weight for weight in model.weights}
    if len(weights) != len(model.weights):
        raise ValueError(
            f"{model.name} has weights with the same path; a checkpoint could not tell them apart"
        )
    return tf.train.Checkpoint(weights=weights, **objects)


def restore_fully(checkpoint, path) -> None:
    """Restore ``checkpoint`` from ``path``; fail when any of its weights finds no value there.

    A checkpoint written before the course named every weight (``model=model``) holds the blocks
    only through the optimizer, which refers to every trainable variable: restored with the
    optimizer, as here, it still loads every weight.
    """
    try:
        checkpoint.restore(str(path)).assert_existing_objects_matched()
    except AssertionError as error:
        raise ValueError(
            f"the checkpoint {path} does not hold every weight of this model "
            f"({str(error)[:300]}…); "
            "it was written by another model or an older course. Train again with a new --out"
        ) from None


def load_trained(out):
    """``(model, tokenizer, record)`` of the run saved in ``out``, restored from its latest
    checkpoint.

    Every weight is restored or this raises: the checkpoint is restored with the run's
    optimizer and step, exactly as a resumed run does (:func:`restore_fully`).
    """
    out = Path(out)
    path = out / RUN_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"{out} holds no training run ({RUN_FILE} is missing); train with --out {out} first"
        )
    record = json.loads(path.read_text(encoding="utf-8"))
    latest = tf.train.latest_checkpoint(str(out / CHECKPOINT_DIR))
    if latest is None:
        raise FileNotFoundError(f"{out} has no checkpoint yet")
    shape = dict(record["model"])
    for (
        option,
        default,
    ) in OLD_MODEL_OPTIONS.items():  # run.json of runs saved before these options went
        if shape.pop(option, default) != default:
            raise ValueError(
                f"{out} holds a model with {option}={record['model'][option]!r}, which this course "
                "no "
                "longer builds; train again with a new --out"
            )
    model = GPT(GPTConfig(**shape))
    optimizer = make_optimizer(model, RunConfig(**record["run"]))
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    restore_fully(weights_checkpoint(model, optimizer=optimizer, step=step), latest)
    if record.get("tokenizer", {}).get("kind") == "bpe":
        from tinyllm.bpe import BPETokenizer

        if not (out / TOKENIZER_FILE).exists():
            raise FileNotFoundError(
                f"{out} holds a BPE run but no tokenizer ({TOKENIZER_FILE} is missing); the "
                "model's ids mean nothing without it: train again with a new --out"
            )
        return model, BPETokenizer.load(out / TOKENIZER_FILE), record
    return model, CharTokenizer(record["vocabulary"]), record


def environment_summary() -> str:
    """One line: which devices TensorFlow sees (for the notebook and the command line)."""
    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    return f"{len(gpus)} GPU(s), {len(cpus)} logical CPU device(s), {os.cpu_count()} CPU core(s)"

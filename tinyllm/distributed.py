"""Chapter 5 — training under ``tf.distribute``: strategies, per-replica input pipelines,
evaluation.

Data parallelism in one sentence: every replica holds a copy of the model, takes
its slice of the global batch, computes gradients, and an all-reduce sums them
so every copy applies the same update.

    global batch B = per-replica batch b × replicas R (× workers)
    loss on replica r:  L_r = (1/B) Σ_{i in r's slice} ℓ_i          tf.nn.compute_average_loss
    all-reduce:         Σ_r ∇L_r = ∇ (1/B) Σ_i ℓ_i                   the single-device gradient

Dividing by the *global* B (not the local b) is what makes R replicas take the
same step as one device on the whole batch.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import tensorflow as tf

from tinyllm.gpt import per_sequence_loss


def configure_cpu_replicas(count: int) -> None:
    """Split the CPU into ``count`` logical devices (CPU:0 … CPU:count−1).

    Must run before TensorFlow initialises its devices (before the first op):
    afterwards TensorFlow refuses, and this says so.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as error:
        raise RuntimeError(
            f"cannot split the CPU into {count} logical devices: TensorFlow is already initialised "
            f"({error}). Configure replicas before any other TensorFlow op (restart the kernel)."
        ) from None


def make_strategy(
    kind: str = "default", replicas: int = 2, collective_timeout: float | None = None
):
    """A ``tf.distribute`` strategy by name.

    - ``"default"``: one device (TensorFlow's default strategy);
    - ``"mirrored"``: every local GPU, or ``replicas`` logical CPU devices where there is none;
    - ``"multiworker"``: ``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``.
      Create it before any other TensorFlow op.
    """
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        configure_cpu_replicas(replicas)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "the multiworker strategy reads the cluster from TF_CONFIG, which is not set"
            )
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=collective_timeout
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise ValueError(f"strategy must be one of default, mirrored, multiworker; got {kind!r}")


def worker_info() -> tuple:
    """(task type, index, number of workers) from ``TF_CONFIG`` — ("worker", 0, 1) without one."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    cluster = config.get("cluster", {})
    task = config.get("task", {})
    workers = sum(len(cluster.get(kind, [])) for kind in ("chief", "worker")) or 1
    return task.get("type", "worker"), int(task.get("index", 0)), workers


def is_chief() -> bool:
    """The worker that writes checkpoints, logs and prints progress: "chief", or worker 0 without
    one."""
    kind, index, _ = worker_info()
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    has_chief = "chief" in config.get("cluster", {})
    return kind == "chief" or (kind == "worker" and index == 0 and not has_chief)


def without_autotune(dataset):
    """``dataset`` (a ``tf.data.Dataset``) with tf.data's autotuning turned off.

    A pipeline whose buffer sizes and parallelism are fixed (``prefetch(2)``, a
    sequential ``map``) has nothing to tune, and the autotuning costs time in
    TensorFlow 2.21: a thread runs beside every iterator, sleeping between
    tuning rounds for longer and longer periods, and deleting the iterator waits
    for the current sleep to end. ``model.fit`` deletes its iterator when it
    returns, so with autotuning on it can return seconds after its last step
    (measured in ``docs/notes_ch05.md``; ``tests/test_ch05.py`` checks the option is set).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def distributed_batches(
    strategy,
    ids,
    sequence_length: int,
    global_batch: int,
    seed: int,
    start_step: int,
    total_steps: int,
):
    """Per-replica ``(inputs, targets)`` for steps ``start_step … total_steps−1``.

    The global batch of step s is :func:`tinyllm.text_data.random_windows` (seed, s).
    Input pipeline w (one per worker) takes rows [w·l·b, (w+1)·l·b) of it, l local
    replicas of b = B / R rows each, and hands consecutive b-row slices to its
    local replicas: together the replicas see the global batch exactly once.
    """
    from tinyllm.text_data import random_windows

    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise ValueError(
            f"global batch {global_batch} must be a multiple of the {replicas} replicas in sync"
        )
    ids = np.asarray(ids, dtype=np.int32)

    def dataset_fn(context):
        b = context.get_per_replica_batch_size(global_batch)
        local = context.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local * b
        token_ids = tf.constant(ids)

        def slices_of_step(step):
            window = random_windows(token_ids, sequence_length, global_batch, seed, step)[
                first : first + local * b
            ]
            return tf.data.Dataset.from_tensor_slices(
                tf.reshape(window, [local, b, sequence_length + 1])
            )

        dataset = tf.data.Dataset.range(start_step, total_steps).flat_map(slices_of_step)
        return without_autotune(dataset.map(lambda w: (w[:, :-1], w[:, 1:])).prefetch(2))

    return strategy.distribute_datasets_from_function(dataset_fn)


def fit_dataset(ids, sequence_length: int, global_batch: int, seed: int, steps: int):
    """The same global batches as a plain ``tf.data.Dataset`` of (inputs, targets), for
    ``model.fit``.

    Under a strategy, ``fit`` splits each global batch across the replicas itself.
    """
    from tinyllm.text_data import random_windows

    token_ids = tf.constant(np.asarray(ids, dtype=np.int32))
    windows = tf.data.Dataset.range(steps).map(
        lambda step: random_windows(token_ids, sequence_length, global_batch, seed, step)
    )
    return without_autotune(windows.map(lambda w: (w[:, :-1], w[:, 1:])).prefetch(2))


def validation_dataset(
    val_ids, sequence_length: int, max_tokens: int | None = 65_536, batch_size: int = 64
):
    """The validation windows (:func:`tinyllm.text_data.validation_windows`) as batches of (inputs,
    targets), for ``model.fit(validation_data=…)`` and ``model.evaluate``: their mean loss is the
    validation cross-entropy."""
    from tinyllm.text_data import validation_windows

    windows = validation_windows(val_ids, sequence_length, max_tokens)
    dataset = tf.data.Dataset.from_tensor_slices((windows[:, :-1], windows[:, 1:])).batch(
        batch_size
    )
    return without_autotune(dataset)


def make_evaluator(
    model, val_ids, sequence_length: int, max_tokens: int | None = 65_536, batch_size: int = 64
):
    """A function () → mean next-token cross-entropy (nats/token) on the validation windows.

    Runs on this process alone (no collectives), so every worker computes the
    same number from its copy of the weights.
    """
    from tinyllm.text_data import validation_windows

    windows = validation_windows(val_ids, sequence_length, max_tokens)

    @tf.function(input_signature=[tf.TensorSpec([None, sequence_length + 1], tf.int32)])
    def summed_loss(w):
        logits = model(w[:, :-1], training=False)
        return tf.reduce_sum(
            keras.losses.sparse_categorical_crossentropy(w[:, 1:], logits, from_logits=True)
        )

    def evaluate() -> float:
        total = sum(
            float(summed_loss(windows[i : i + batch_size]))
            for i in range(0, len(windows), batch_size)
        )
        return total / (len(windows) * sequence_length)

    return evaluate


def cpu_has_fast_bfloat16() -> bool:
    """True on a CPU with AMX tile units for bfloat16 matmuls (Linux: the ``amx_bf16`` flag of
    /proc/cpuinfo).

    AVX512-BF16 alone did not pay off on the course's 2-core AMD EPYC (which has it, but no
    AMX): ``python -m course.bench gpt`` measures it on any machine, and
    ``docs/notes_ch05.md`` records what it measured there.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return "amx_bf16" in handle.read()
    except OSError:
        return False


def choose_precision(requested: str = "auto") -> str:
    """A Keras dtype policy name: float16 on GPUs, bfloat16 on a CPU with fast bfloat16 units, else
    float32.

    ``requested`` other than "auto" is returned as is (after a check). Under a
    mixed policy the weights stay float32 and the matmuls run in 16 bits; the
    model's logits and the loss stay float32.
    """
    choices = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
    if requested not in choices:
        raise ValueError(f"precision must be one of {', '.join(choices)}, got {requested!r}")
    if requested != "auto":
        return requested
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_fast_bfloat16() else "float32"


def make_train_step(strategy, model, optimizer, global_batch: int, jit_compile: bool = False):
    """``train_step(iterator) → loss``: one data-parallel step of the mini GPT under ``strategy``.

    Each replica takes its slice of the global batch (b = B / R sequences) and divides its
    summed per-sequence losses by the *global* B, so that the all-reduce (the sum of the
    replicas' gradients, done by ``apply_gradients``) is the one-device gradient of the mean
    loss over B. ``strategy.reduce(SUM)`` adds the replicas' losses into that mean.
    ``jit_compile`` XLA-compiles the replica's step (one device only: it fails under
    MirroredStrategy). Model and optimizer must be built inside ``strategy.scope()``.
    """

    def replica_step(inputs, targets):  # one replica, its slice of the global batch
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            loss = tf.nn.compute_average_loss(
                per_sequence_loss(targets, logits), global_batch_size=global_batch
            )
            # × the loss scale under mixed_float16, else unchanged
            scaled = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, model.trainable_variables)
        # all-reduce, then update
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    if jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def train_step(iterator):
        per_replica_loss = strategy.run(replica_step, args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    return train_step

"""The chapter-5 mini GPT: a decoder-only Transformer built from chapter 4's blocks, and its sampler.

    token ids y (b, t)
    x₀ = E[y] + P[0 … t−1]                    token + learned position embeddings   (b, t, d)
    x_l = Block_l(x_{l−1}), l = 1 … L         chapter 4's pre-layer-norm TransformerBlock, causal
    z = LayerNorm(x_L) Eᵀ                     logits (b, t, v); with weight tying the output
                                              matrix is the token embedding E itself
    p(y_{t+1} | y_≤t) = softmax(z_t)

Parameters (v vocabulary, T context, d model width, m = 4d MLP width, L blocks):
    embeddings   v·d + T·d
    per block    attention 3d² + 3d (fused QKV) + d² + d (output)
                 MLP       d·m + m + m·d + d
                 2 layer norms 2·2d
    final norm   2d;  output head v·d unless tied (then 0)

Generation repeats: crop to the last T tokens, run the model, take the last
position's logits, divide by the temperature, filter (top-k, top-p), sample.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import asdict, dataclass

import keras
import numpy as np
from keras import ops

from course.validation import require_positive_int
from solutions.ch04 import TransformerBlock

_SERIALIZABLE_PACKAGE = "course_ch05"


@dataclass(frozen=True)
class GPTConfig:
    """Everything that fixes the shapes of a mini GPT (saved next to its checkpoints)."""

    vocabulary_size: int
    sequence_length: int = 64
    num_layers: int = 4
    num_heads: int = 4
    d_model: int = 128
    mlp_units: int | None = None  # 4·d_model
    dropout: float = 0.0
    tie_embeddings: bool = True

    def __post_init__(self):
        for name in ("vocabulary_size", "sequence_length", "num_layers", "num_heads", "d_model"):
            require_positive_int(getattr(self, name), name)
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide d_model={self.d_model}")

    def to_dict(self) -> dict:
        return asdict(self)


@keras.saving.register_keras_serializable(package=_SERIALIZABLE_PACKAGE)
class GPT(keras.Model):
    """Decoder-only Transformer language model: token ids (b, t ≤ T) → next-token logits (b, t, v), float32.

    ``GPT(vocabulary_size, sequence_length=64, num_layers=4, num_heads=4, d_model=128,
    mlp_units=None, dropout=0.0, tie_embeddings=True)``. Embeddings start as
    N(0, 0.02²), as in GPT-2. The logits are float32 even under a
    mixed-precision policy, so the softmax and the loss stay accurate.
    """

    def __init__(self, vocabulary_size, sequence_length=64, num_layers=4, num_heads=4, d_model=128,
                 mlp_units=None, dropout=0.0, tie_embeddings=True, **kwargs):
        super().__init__(**kwargs)
        self.config = GPTConfig(vocabulary_size, sequence_length, num_layers, num_heads, d_model, mlp_units,
                                float(dropout), bool(tie_embeddings))
        c = self.config
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.token_embedding = keras.layers.Embedding(c.vocabulary_size, c.d_model, embeddings_initializer=init,
                                                      name="token_embedding")
        self.embedding_dropout = keras.layers.Dropout(c.dropout)
        self.blocks = [
            TransformerBlock(c.d_model, c.num_heads, c.mlp_units, activation="gelu", causal=True, dropout=c.dropout,
                             name=f"block_{i}")
            for i in range(c.num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = None if c.tie_embeddings else keras.layers.Dense(c.vocabulary_size, use_bias=False, name="head")

    @property
    def sequence_length(self) -> int:
        return self.config.sequence_length

    def build(self, input_shape=None):
        c = self.config
        self.token_embedding.build((None, None))
        # The position table P (T, d) is read by slicing, P[:t], not by a lookup: its gradient is then a
        # dense tensor. An Embedding lookup's gradient is sparse (tf.IndexedSlices), and Keras 3.15's
        # Adam squares sparse gradients slice by slice — wrong when an index repeats, which is what the
        # all-reduce of MirroredStrategy produces (each replica sends the same positions).
        self.position_embedding = self.add_weight(shape=(c.sequence_length, c.d_model),
                                                  initializer=keras.initializers.RandomNormal(stddev=0.02),
                                                  name="position_embedding")
        for block in self.blocks:
            block.build((None, None, c.d_model))
        self.final_norm.build((None, None, c.d_model))
        if self.head is not None:
            self.head.build((None, None, c.d_model))
        self.built = True

    def call(self, token_ids, training=None):
        t = ops.shape(token_ids)[1]
        positions = ops.cast(self.position_embedding[:t], self.compute_dtype)  # (t, d)
        x = self.token_embedding(token_ids) + positions[None]  # (b, t, d)
        x = self.embedding_dropout(x, training=training)
        for block in self.blocks:
            x = block(x, training=training)
        x = self.final_norm(x)
        if self.head is None:  # weight tying: logits_j = x · E_j
            logits = ops.matmul(x, ops.transpose(ops.cast(self.token_embedding.embeddings, x.dtype)))
        else:
            logits = self.head(x)
        return ops.cast(logits, "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.config.vocabulary_size,)

    def get_config(self):
        config = super().get_config()
        config.update(self.config.to_dict())
        return config


def build_gpt(config: GPTConfig) -> GPT:
    """A built :class:`GPT` for ``config`` (weights created, so they can be counted and restored)."""
    model = GPT(**config.to_dict())
    model.build((None, config.sequence_length))
    return model


def parameter_count(config: GPTConfig) -> dict:
    """The parameter count derived by hand (see the module docstring), part by part, and the total."""
    v, t, d, n = config.vocabulary_size, config.sequence_length, config.d_model, config.num_layers
    m = config.mlp_units or 4 * d
    parts = {
        "token embedding v·d": v * d,
        "position embedding T·d": t * d,
        "attention per block 4d²+4d": 4 * d * d + 4 * d,
        "MLP per block 2dm+m+d": 2 * d * m + m + d,
        "layer norms per block 4d": 4 * d,
        "final layer norm 2d": 2 * d,
        "output head v·d (0 if tied)": 0 if config.tie_embeddings else v * d,
    }
    block = sum(value for key, value in parts.items() if "per block" in key)
    parts["total"] = v * d + t * d + n * block + 2 * d + parts["output head v·d (0 if tied)"]
    return parts


# --------------------------------------------------------------------------- loss


def per_sequence_loss(targets, logits):
    """Mean next-token cross-entropy of each sequence: targets (b, t) ints, logits (b, t, v) → (b,).

    Averaging these over the global batch (``tf.nn.compute_average_loss``) gives
    the mean over every token, the quantity ``model.fit`` minimises with
    ``SparseCategoricalCrossentropy(from_logits=True)``.
    """
    losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)  # (b, t)
    return ops.mean(losses, axis=-1)


# --------------------------------------------------------------------------- precision


def cpu_has_fast_bfloat16() -> bool:
    """True on a CPU with AMX tile units for bfloat16 matmuls (Linux: the ``amx_bf16`` flag of /proc/cpuinfo).

    AVX512-BF16 alone does not pay off: on the course's 2-core AMD EPYC (which has it,
    but no AMX) ``python -m course.bench gpt`` measured mixed_bfloat16 against float32 at
    19.5k vs 19.0k tokens/s (oneDNN, no XLA), 26.5k vs 30–34k (oneDNN and XLA) and
    13.0k vs 15.6k (oneDNN off).
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return "amx_bf16" in handle.read()
    except OSError:
        return False


def choose_precision(requested: str = "auto") -> str:
    """A Keras dtype policy name: float16 on GPUs, bfloat16 on a CPU with fast bfloat16 units, else float32.

    ``requested`` other than "auto" is returned as is (after a check). Under a
    mixed policy the weights stay float32 and the matmuls run in 16 bits; the
    model's logits and the loss stay float32.
    """
    import tensorflow as tf

    choices = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
    if requested not in choices:
        raise ValueError(f"precision must be one of {', '.join(choices)}, got {requested!r}")
    if requested != "auto":
        return requested
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_fast_bfloat16() else "float32"


# --------------------------------------------------------------------------- generation


def filter_logits(logits, top_k=None, top_p=None):
    """(b, v) float logits → the same with everything outside top-k, then the top-p nucleus, at −inf.

    Written with TensorFlow ops for the sampler. Ties with the cut-off value are
    kept in both filters. Top-p renormalises over what top-k kept.
    """
    import tensorflow as tf

    logits = tf.convert_to_tensor(logits, tf.float32)
    minus_inf = tf.fill(tf.shape(logits), float("-inf"))
    if top_k is not None:
        kth_largest = tf.math.top_k(logits, k=int(top_k)).values[:, -1:]
        logits = tf.where(logits >= kth_largest, logits, minus_inf)
    if top_p is not None:
        sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
        mass_before = tf.math.cumsum(tf.nn.softmax(sorted_logits, axis=-1), axis=-1, exclusive=True)
        keep = mass_before < float(top_p)
        threshold = tf.reduce_min(tf.where(keep, sorted_logits, tf.fill(tf.shape(logits), float("inf"))),
                                  axis=-1, keepdims=True)
        logits = tf.where(logits >= threshold, logits, minus_inf)
    return logits


_NEXT_LOGITS = weakref.WeakKeyDictionary()


def next_token_logits(model, token_ids):
    """Logits (b, v) of the token after ``token_ids`` (b, t), using at most the model's last T tokens."""
    import tensorflow as tf

    function = _NEXT_LOGITS.get(model)
    if function is None:
        function = tf.function(lambda ids: model(ids, training=False)[:, -1, :],
                               input_signature=[tf.TensorSpec([None, None], tf.int32)])
        _NEXT_LOGITS[model] = function
    token_ids = tf.convert_to_tensor(token_ids, tf.int32)
    return function(token_ids[:, -model.sequence_length:])


def generate(model, prompt_ids, max_new_tokens: int, temperature: float = 1.0, top_k=None, top_p=None,
             seed: int = 0) -> np.ndarray:
    """Continue ``prompt_ids`` ((t,) or (b, t) ints) by ``max_new_tokens`` tokens; returns the whole ids.

    ``temperature=0`` is greedy decoding (argmax). Otherwise the logits are
    divided by the temperature, filtered (``top_k``, ``top_p``) and sampled with
    a stateless RNG keyed by (seed, position): the same seed gives the same text.
    """
    import tensorflow as tf

    ids = np.asarray(prompt_ids, dtype=np.int32)
    single = ids.ndim == 1
    ids = ids[None] if single else ids
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"prompt_ids must be a non-empty (t,) or (b, t) array of token ids, got shape {ids.shape}")
    max_new_tokens = int(max_new_tokens)
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be ≥ 0, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0 (0 = greedy), got {temperature}")
    if top_k is not None and not 1 <= require_positive_int(top_k, "top_k") <= model.config.vocabulary_size:
        raise ValueError(f"top_k must lie in [1, {model.config.vocabulary_size}] (the vocabulary size), got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p}")
    for i in range(max_new_tokens):
        logits = next_token_logits(model, ids)
        if temperature == 0:
            token = tf.argmax(logits, axis=-1, output_type=tf.int32)
        else:
            logits = filter_logits(logits / temperature, top_k, top_p)
            token = tf.random.stateless_categorical(logits, 1, seed=[seed, i], dtype=tf.int32)[:, 0]
        ids = np.concatenate([ids, token.numpy()[:, None]], axis=1)
    return ids[0] if single else ids


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = 200, **sampling) -> str:
    """``prompt`` followed by the model's continuation, as text (see :func:`generate`)."""
    if not prompt:
        raise ValueError("prompt must contain at least one character")
    ids = generate(model, tokenizer.encode(prompt), max_new_tokens, **sampling)
    return tokenizer.decode(ids)


def environment_summary() -> str:
    """One line: which devices TensorFlow sees (for the notebook and the command line)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    return f"{len(gpus)} GPU(s), {len(cpus)} logical CPU device(s), {os.cpu_count()} CPU core(s)"


class SampleCallback(keras.callbacks.Callback):
    """Print (and keep in ``samples``) a continuation of ``prompt`` every ``every`` epochs of ``fit``.

    Watching the same prompt continued at a few points of training shows the
    model learn: random characters, then words, then the corpus's sentences.
    """

    def __init__(self, tokenizer, prompt: str, every: int = 1, max_new_tokens: int = 80, temperature: float = 0.8,
                 seed: int = 0):
        super().__init__()
        self.tokenizer, self.prompt, self.every = tokenizer, prompt, require_positive_int(every, "every")
        self.sampling = {"max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
        self.samples = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        text = generate_text(self.model, self.tokenizer, self.prompt, **self.sampling)
        val = (logs or {}).get("val_loss")
        self.samples.append((epoch + 1, text))
        print(f"epoch {epoch + 1}" + (f", val_loss {val:.3f}" if val is not None else "") + f": {text!r}")

"""Chapter 5 — generation: next-token logits, temperature, top-k and top-p filters, sampling.

Generation repeats: crop to the last T tokens, run the model, take the last
position's logits, divide by the temperature, filter (top-k, top-p), sample.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

from tinyllm.validation import require_positive_int


def sampling_mask(logits, top_k=None, top_p=None):
    """(b, v) float logits → (b, v) bool: the tokens that top-k, then the top-p nucleus, let
    through.

    Written with TensorFlow ops for the sampler, which samples from the logits with
    every other token at −inf. Ties with the cut-off value are kept in both filters.
    Top-p renormalises over what top-k kept.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    keep = tf.ones(tf.shape(logits), tf.bool)
    if top_k is not None:
        keep = logits >= tf.math.top_k(logits, k=int(top_k)).values[:, -1:]
    if top_p is not None:
        sorted_logits = tf.sort(
            tf.where(keep, logits, float("-inf")), axis=-1, direction="DESCENDING"
        )
        mass_before = tf.math.cumsum(tf.nn.softmax(sorted_logits, axis=-1), axis=-1, exclusive=True)
        threshold = tf.reduce_min(
            tf.where(mass_before < float(top_p), sorted_logits, float("inf")),
            axis=-1,
            keepdims=True,
        )
        keep = keep & (logits >= threshold)
    return keep


_COMPILED = weakref.WeakKeyDictionary()  # model → {function: that function compiled for it}


def compiled(model, function, *signature):
    """``function(model, *tensors)`` as one ``tf.function`` per model and function, traced once
    for every shape that fits ``signature`` (one ``tf.TensorSpec`` per tensor).

    Called eagerly, a Keras model runs op by op from Python at every decoding step; the compiled
    graph is several times faster per step (``tests/test_ch05.py`` measures it). The model is
    held weakly, so a model that is no longer used is freed with its graph.
    """
    functions = _COMPILED.setdefault(model, {})
    if function not in functions:
        model_ref = weakref.ref(model)
        functions[function] = tf.function(
            lambda *tensors: function(model_ref(), *tensors), input_signature=list(signature)
        )
    return functions[function]


def inference_logits(model, token_ids):
    """The model's logits (b, t, v) for ``token_ids`` (b, t), in inference mode."""
    return model(token_ids, training=False)


def next_token_logits(model, token_ids):
    """Logits (b, v) of the token after ``token_ids`` (b, t), using at most the model's last T
    tokens."""
    forward = compiled(model, inference_logits, tf.TensorSpec([None, None], tf.int32))
    token_ids = tf.convert_to_tensor(token_ids, tf.int32)
    return forward(token_ids[:, -model.config.sequence_length :])[:, -1, :]


def full_context_logits(model, token_ids, state=None):
    """``(logits (b, v), None)``: :func:`next_token_logits`, as a ``next_logits`` for
    :func:`generate` (it keeps no state: every call reads the whole context again)."""
    return next_token_logits(model, token_ids), None


def generate(
    model,
    prompt_ids,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k=None,
    top_p=None,
    seed: int = 0,
    next_logits=full_context_logits,
    stop_id=None,
) -> np.ndarray:
    """Continue ``prompt_ids`` ((t,) or (b, t) ints) by up to ``max_new_tokens`` tokens; returns the
    whole ids.

    ``temperature=0`` is greedy decoding (argmax). Otherwise the logits are
    divided by the temperature, filtered (``top_k``, ``top_p``) and sampled with
    a stateless RNG keyed by (seed, position): the same seed gives the same text.
    ``next_logits(model, ids, state) → (logits (b, v), state)`` reads the next token's
    logits, handing ``state`` from one step to the next (chapter 7 passes its KV cache).
    With ``stop_id``, a row that has written it writes only ``stop_id`` from then on, and
    the loop ends once every row has (the result can be shorter than ``max_new_tokens``).
    """
    ids = np.asarray(prompt_ids, dtype=np.int32)
    single = ids.ndim == 1
    ids = ids[None] if single else ids
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(
            "prompt_ids must be a non-empty (t,) or (b, t) array of token ids, got shape "
            f"{ids.shape}"
        )
    max_new_tokens = int(max_new_tokens)
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be ≥ 0, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be ≥ 0 (0 = greedy), got {temperature}")
    if (
        top_k is not None
        and not 1 <= require_positive_int(top_k, "top_k") <= model.config.vocabulary_size
    ):
        raise ValueError(
            f"top_k must lie in [1, {model.config.vocabulary_size}] (the vocabulary size), got "
            f"{top_k}"
        )
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must lie in (0, 1], got {top_p}")
    state, stopped = None, np.zeros(len(ids), bool)
    for i in range(max_new_tokens):
        logits, state = next_logits(model, ids, state)
        if temperature == 0:
            token = tf.argmax(logits, axis=-1, output_type=tf.int32)
        else:
            logits = logits / temperature
            logits = tf.where(sampling_mask(logits, top_k, top_p), logits, float("-inf"))
            token = tf.random.stateless_categorical(logits, 1, seed=[seed, i], dtype=tf.int32)[:, 0]
        token = token.numpy()
        if stop_id is not None:
            token = np.where(stopped, stop_id, token)
            stopped |= token == stop_id
        ids = np.concatenate([ids, token[:, None]], axis=1)
        if stopped.all():
            break
    return ids[0] if single else ids


def generate_text(model, tokenizer, prompt: str, max_new_tokens: int = 200, **sampling) -> str:
    """``prompt`` followed by the model's continuation, as text (see :func:`generate`)."""
    if not prompt:
        raise ValueError("prompt must contain at least one character")
    ids = generate(model, tokenizer.encode(prompt), max_new_tokens, **sampling)
    return tokenizer.decode(ids)


class SampleCallback(keras.callbacks.Callback):
    """Print (and keep in ``samples``) a continuation of ``prompt`` every ``every`` epochs of
    ``fit``.

    Watching the same prompt continued at a few points of training shows the
    model learn: misspelt fragments, then words, then the corpus's sentences.
    """

    def __init__(
        self,
        tokenizer,
        prompt: str,
        every: int = 1,
        max_new_tokens: int = 80,
        temperature: float = 0.8,
        seed: int = 0,
    ):
        super().__init__()
        self.tokenizer, self.prompt, self.every = (
            tokenizer,
            prompt,
            require_positive_int(every, "every"),
        )
        self.sampling = {"max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
        self.samples = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        text = generate_text(self.model, self.tokenizer, self.prompt, **self.sampling)
        val = (logs or {}).get("val_loss")
        self.samples.append((epoch + 1, text))
        print(
            f"epoch {epoch + 1}"
            + (f", val_loss {val:.3f}" if val is not None else "")
            + f": {text!r}"
        )

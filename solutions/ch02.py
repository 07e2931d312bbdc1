"""Chapter 2 — LSTM encoder–decoder (seq2seq) on a small translation task.

One LSTM step (Keras's weight layout, gate order i, f, c, o; u units, input size n):

    z  = x·W + h·U + b                 W (n, 4u), U (u, 4u), b (4u,)  → z (b, 4u)
    i  = σ(z[:, 0u:1u])   f = σ(z[:, 1u:2u])   g = tanh(z[:, 2u:3u])   o = σ(z[:, 3u:4u])
    c' = f ⊙ c + i ⊙ g                 (the cell state: updated by addition, not by a matrix)
    h' = o ⊙ tanh(c')

The exercises: one LSTM step (above), the decoder inputs of teacher forcing
(``shift_right``: <start> then the targets but the last), the masked mean
cross-entropy over the unpadded targets, and one step of the whole decoder
(``decoder_step``: embed the previous token, one LSTM step, the logits), the
step greedy decoding repeats. The model they belong to is in
:mod:`tinyllm.seq2seq`, on chapter 2's page.
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import as_array


def _lstm_step64(x, h, c, kernel, recurrent_kernel, bias):
    """:func:`lstm_cell_step` on float64 arrays, its shapes checked; (h_new, c_new) in float64."""
    units = h.shape[1]
    if kernel.shape != (x.shape[1], 4 * units):
        raise ValueError(
            f"kernel must have shape ({x.shape[1]}, {4 * units}) for x {x.shape} and h {h.shape}, "
            f"got {kernel.shape}"
        )
    if recurrent_kernel.shape != (units, 4 * units):
        raise ValueError(
            f"recurrent_kernel must have shape ({units}, {4 * units}), got {recurrent_kernel.shape}"
        )
    if bias.shape != (4 * units,):
        raise ValueError(f"bias must have shape ({4 * units},), got {bias.shape}")
    if c.shape != h.shape or x.shape[0] != h.shape[0]:
        raise ValueError(
            f"x, h and c must share the batch size and h, c the shape; got {x.shape}, {h.shape}, "
            f"{c.shape}"
        )

    sigmoid = lambda v: 0.5 * (1.0 + np.tanh(0.5 * v))  # noqa: E731 - stable for any v
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h_new = sigmoid(o) * np.tanh(c_new)
    return h_new, c_new


def lstm_cell_step(x, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step; returns ``(h_new (b, u), c_new (b, u))``.

    x (b, n), h (b, u), c (b, u); kernel (n, 4u), recurrent_kernel (u, 4u), bias (4u,),
    the gates packed in Keras's order i, f, c (candidate), o along the last axis::

        z = x·kernel + h·recurrent_kernel + bias
        i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
        c_new = f ⊙ c + i ⊙ g ;  h_new = o ⊙ tanh(c_new)
    """
    x = as_array(x, "x", ndim=2, dtype="float").astype(np.float64)
    h = as_array(h, "h", ndim=2, dtype="float").astype(np.float64)
    c = as_array(c, "c", ndim=2, dtype="float").astype(np.float64)
    kernel = as_array(kernel, "kernel", ndim=2, dtype="float").astype(np.float64)
    recurrent_kernel = as_array(recurrent_kernel, "recurrent_kernel", ndim=2, dtype="float").astype(
        np.float64
    )
    bias = as_array(bias, "bias", ndim=1, dtype="float").astype(np.float64)
    h_new, c_new = _lstm_step64(x, h, c, kernel, recurrent_kernel, bias)
    return h_new.astype(np.float32), c_new.astype(np.float32)


def shift_right(targets, start_id):
    """Decoder inputs for teacher forcing: ``(b, t)`` ints → ``start_id`` then ``targets[:, :-1]``.

    At step t the decoder is fed the *true* previous token y_{t−1} (y_0 = start_id)
    and asked for y_t, so inputs and targets line up position by position.
    """
    targets = as_array(targets, "targets", ndim=2, dtype="int")
    if isinstance(start_id, bool) or not isinstance(start_id, (int, np.integer)):
        raise TypeError(f"start_id must be an integer token id, got {start_id!r}")
    start = np.full((targets.shape[0], 1), start_id, dtype=targets.dtype)
    return np.concatenate([start, targets[:, :-1]], axis=1)


def masked_sequence_cross_entropy(y_true, logits, mask):
    """Mean of −log softmax(logits)[y_true] over the positions where ``mask`` is 1.

    y_true (b, t) ints, logits (b, t, v), mask (b, t) of 0/1 → a float32 scalar::

        L = −(1/N) Σ_{b,t} mask_bt · log softmax(logits_bt)[y_bt],   N = Σ mask

    The log-softmax is computed as z − max z − log Σ e^(z − max z), so large logits
    never overflow. An all-zero mask has no tokens to average: the loss is 0.
    """
    y_true = as_array(y_true, "y_true", ndim=2, dtype="int")
    logits = as_array(logits, "logits", ndim=3, dtype="float").astype(np.float64)
    mask = as_array(mask, "mask", ndim=2, dtype="float").astype(np.float64)
    if logits.shape[:2] != y_true.shape or mask.shape != y_true.shape:
        raise ValueError(
            f"y_true (b, t), logits (b, t, v) and mask (b, t) must agree, got "
            f"{y_true.shape}, {logits.shape}, {mask.shape}"
        )
    if y_true.size and (y_true.min() < 0 or y_true.max() >= logits.shape[2]):
        raise ValueError(f"y_true ids must lie in [0, {logits.shape[2] - 1}]")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
    count = mask.sum()
    return np.float32(-(picked * mask).sum() / count) if count > 0 else np.float32(0.0)


DECODER_KEYS = ("embedding", "kernel", "recurrent_kernel", "bias", "dense_kernel", "dense_bias")


def decoder_step(token_ids, h, c, params):
    """One step of chapter 2's LSTM decoder; returns ``(logits (b, V), h_new (b, u), c_new (b,
    u))``.

    token_ids (b,) ints (the previous target token), h, c (b, u); ``params`` a dict of
    ``embedding`` (V, e), ``kernel`` (e, 4u), ``recurrent_kernel`` (u, 4u), ``bias`` (4u,)
    (Keras's LSTM layout, gates i, f, c, o as in :func:`lstm_cell_step`), ``dense_kernel`` (u, V)
    and ``dense_bias`` (V,)::

        x              = embedding[token_ids]                      (b, e)
        (h_new, c_new) = lstm_cell_step(x, h, c, kernel, recurrent_kernel, bias)
        logits         = h_new·dense_kernel + dense_bias           (b, V), no softmax

    Greedy decoding feeds argmax(logits) back in as the next ``token_ids``, with (h_new, c_new).
    The outputs are float64 when h or c is, float32 otherwise.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    missing = [key for key in DECODER_KEYS if key not in params]
    if missing:
        raise ValueError(f"params is missing {', '.join(missing)}")
    p = {
        key: as_array(params[key], key, ndim=1 if "bias" in key else 2, dtype="float").astype(
            np.float64
        )
        for key in DECODER_KEYS
    }
    ids = as_array(token_ids, "token_ids", ndim=1, dtype="int")
    h = as_array(h, "h", ndim=2, dtype="float")
    c = as_array(c, "c", ndim=2, dtype="float")
    (vocabulary, _), units = p["embedding"].shape, h.shape[1]
    if ids.size and (ids.min() < 0 or ids.max() >= vocabulary):
        raise ValueError(
            f"token_ids must lie in [0, {vocabulary - 1}] (the embedding's rows), "
            f"got [{ids.min()}, {ids.max()}]"
        )
    if h.shape != c.shape or h.shape[0] != ids.shape[0]:
        raise ValueError(
            f"token_ids (b,), h and c (b, u) must share b and h, c the shape; got {ids.shape}, "
            f"{h.shape}, {c.shape}"
        )
    if p["dense_kernel"].shape != (units, vocabulary) or p["dense_bias"].shape != (vocabulary,):
        raise ValueError(
            f"dense_kernel must have shape ({units}, {vocabulary}) and dense_bias ({vocabulary},) "
            "for "
            f"u={units}, V={vocabulary}; got {p['dense_kernel'].shape}, {p['dense_bias'].shape}"
        )
    if p["kernel"].shape != (p["embedding"].shape[1], 4 * units):
        raise ValueError(
            f"kernel must have shape ({p['embedding'].shape[1]}, {4 * units}) for embedding "
            f"{p['embedding'].shape} and h {h.shape}, got {p['kernel'].shape}"
        )
    dtype = np.result_type(h.dtype, c.dtype, np.float32)
    h_new, c_new = _lstm_step64(
        p["embedding"][ids],
        h.astype(np.float64),
        c.astype(np.float64),
        p["kernel"],
        p["recurrent_kernel"],
        p["bias"],
    )
    logits = h_new @ p["dense_kernel"] + p["dense_bias"]
    return logits.astype(dtype), h_new.astype(dtype), c_new.astype(dtype)

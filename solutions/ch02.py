"""Chapter 2 — LSTM encoder–decoder (seq2seq) on a small translation task.

One LSTM step (Keras's weight layout, gate order i, f, c, o; u units, input size n):

    z  = x·W + h·U + b                 W (n, 4u), U (u, 4u), b (4u,)  → z (b, 4u)
    i  = σ(z[:, 0u:1u])   f = σ(z[:, 1u:2u])   g = tanh(z[:, 2u:3u])   o = σ(z[:, 3u:4u])
    c' = f ⊙ c + i ⊙ g                 (the cell state: updated by addition, not by a matrix)
    h' = o ⊙ tanh(c')

The exercises: one LSTM step (above), the decoder inputs of teacher forcing
(``shift_right``: <start> then the targets but the last) and the masked mean
cross-entropy over the unpadded targets. The model they belong to is in
:mod:`tinyllm.seq2seq`, on chapter 2's page.
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import as_array


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
    recurrent_kernel = as_array(recurrent_kernel, "recurrent_kernel", ndim=2, dtype="float").astype(np.float64)
    bias = as_array(bias, "bias", ndim=1, dtype="float").astype(np.float64)
    units = h.shape[1]
    if kernel.shape != (x.shape[1], 4 * units):
        raise ValueError(f"kernel must have shape ({x.shape[1]}, {4 * units}) for x {x.shape} and h {h.shape}, "
                         f"got {kernel.shape}")
    if recurrent_kernel.shape != (units, 4 * units):
        raise ValueError(f"recurrent_kernel must have shape ({units}, {4 * units}), got {recurrent_kernel.shape}")
    if bias.shape != (4 * units,):
        raise ValueError(f"bias must have shape ({4 * units},), got {bias.shape}")
    if c.shape != h.shape or x.shape[0] != h.shape[0]:
        raise ValueError(f"x, h and c must share the batch size and h, c the shape; got {x.shape}, {h.shape}, {c.shape}")

    sigmoid = lambda v: 0.5 * (1.0 + np.tanh(0.5 * v))  # noqa: E731 - stable for any v
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h_new = sigmoid(o) * np.tanh(c_new)
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
        raise ValueError(f"y_true (b, t), logits (b, t, v) and mask (b, t) must agree, got "
                         f"{y_true.shape}, {logits.shape}, {mask.shape}")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= logits.shape[2]):
        raise ValueError(f"y_true ids must lie in [0, {logits.shape[2] - 1}]")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
    count = mask.sum()
    return np.float32(-(picked * mask).sum() / count) if count > 0 else np.float32(0.0)

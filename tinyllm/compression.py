"""Chapter 7 — making a model small: distillation loss, int8/int4 weight quantization, magnitude pruning.

    distillation   L_KD = T² · mean KL(p_T ‖ q_T),  p_T = softmax(z_teacher / T), q_T = softmax(z_student / T)
    quantization   s_j = max_i |w_ij| / q_max,  q_ij = clip(round(w_ij / s_j), −q_max, q_max),  w ≈ q · s
                   q_max = 2^(bits−1) − 1: 127 for int8, 7 for int4; one scale per output channel j
    pruning        zero the k = ⌊sparsity · N⌋ weights of smallest |w| over all N prunable weights
"""

from __future__ import annotations

import io

import keras
import numpy as np
from keras import ops

from tinyllm.validation import as_array


def soft_target_loss(teacher_logits, student_logits, temperature: float):
    """T² · mean over positions of KL(softmax(teacher/T) ‖ softmax(student/T)); logits (…, v) → scalar.

    Written with log-softmax, so it is stable for any logits. It equals what
    ``keras.distillation.LogitsDistillation(temperature)`` computes, except that Keras's
    ``KLDivergence`` clips probabilities to [1e-7, 1] first. The gradient with respect to the
    student's logits is T·(q_T − p_T) / (number of positions): the T² keeps it from shrinking
    as 1/T² at high temperature.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    log_p = ops.log_softmax(ops.cast(teacher_logits, "float32") / temperature, axis=-1)
    log_q = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    kl = ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)
    return temperature ** 2 * ops.mean(kl)


def symmetric_quantize(w, bits: int = 8, axis: int = 0):
    """Symmetric per-channel quantization: w (d_in, d_out) float → (q int8 like w, scale float32).

    One scale per slice along the other axes of ``axis``: with ``axis=0`` (a Dense kernel)
    one per output column j, s_j = max_i |w_ij| / q_max (1 for an all-zero column), and
    q = clip(round(w / s), −q_max, q_max), rounding half to even. ``bits`` = 8 gives int8
    (q_max = 127), 4 gives int4 values (q_max = 7), still held one per int8 byte here.
    """
    w = as_array(w, "w", ndim=2, dtype="float")
    if bits not in (2, 3, 4, 5, 6, 7, 8):
        raise ValueError(f"bits must be an integer from 2 to 8, got {bits!r}")
    q_max = 2 ** (bits - 1) - 1
    largest = np.max(np.abs(w), axis=axis, keepdims=True)
    scale = np.where(largest > 0, largest / q_max, 1.0).astype(np.float32)
    q = np.clip(np.round(w / scale), -q_max, q_max).astype(np.int8)
    return q, np.squeeze(scale, axis=axis)


def dequantize(q, scale, axis: int = 0) -> np.ndarray:
    """q (d_in, d_out) ints and the per-channel scale of :func:`symmetric_quantize` → float32 q · s."""
    return (np.asarray(q, np.float32) * np.expand_dims(np.asarray(scale, np.float32), axis)).astype(np.float32)


def model_matrices(model) -> dict:
    """Every 2-D weight of a mini GPT by path → (variable, channel axis for :func:`symmetric_quantize`).

    Dense kernels (d_in, d_out) have one channel per output column (axis 0 reduced); the token
    and position tables (rows are vectors: E is also the tied output layer, z = x Eᵀ) one per row.
    """
    found = {}
    for variable in model.weights:
        if len(variable.shape) == 2:
            found[variable.path] = (variable, 1 if "embedding" in variable.path else 0)
    return found


def quantize_model(model, bits: int = 8) -> dict:
    """Weight-only quantization of every matrix of ``model``, in place: each becomes q · s.

    Returns what would be stored: ``{path: array}`` with ``path + "/q"`` (int8) and
    ``path + "/scale"`` (float32) for each matrix, float32 for every other weight (biases,
    layer norms). The model then computes in float32 with the rounded weights, so its loss
    is exactly the loss of the stored int8 model.
    """
    matrices = model_matrices(model)
    stored = {}
    for variable in model.weights:
        value = ops.convert_to_numpy(variable)
        if variable.path in matrices:
            axis = matrices[variable.path][1]
            q, scale = symmetric_quantize(value, bits, axis)
            stored[variable.path + "/q"], stored[variable.path + "/scale"] = q, scale
            variable.assign(dequantize(q, scale, axis))
        else:
            stored[variable.path] = value.astype(np.float32)
    return stored


def stored_bytes(arrays: dict, compressed: bool = False) -> int:
    """Size in bytes of ``arrays`` written as one ``.npz`` file (``np.savez``, or zip-deflated)."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **{k.replace("/", "."): v for k, v in arrays.items()})
    return buffer.getbuffer().nbytes


def prunable_kernels(model) -> list:
    """The Dense kernels of the blocks (QKV, output, MLP): 91 % of the mini GPT's weights.

    Embeddings, biases and layer norms stay: they are few, and every token reads them.
    """
    return [v for v in model.weights if len(v.shape) == 2 and "embedding" not in v.path]


def global_magnitude_masks(weights, sparsity: float) -> list:
    """Keep-masks (bool, one per array) that zero the ⌊sparsity·N⌋ smallest |w| over all N weights together.

    One threshold for the whole model ("global"): layers with many small weights lose more
    of them than layers with few. Ties in |w| go in flat order (the stable sort), so exactly
    ⌊sparsity·N⌋ weights are pruned.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must lie in [0, 1], got {sparsity}")
    arrays = [np.asarray(ops.convert_to_numpy(w) if not isinstance(w, np.ndarray) else w) for w in weights]
    magnitudes = np.concatenate([np.abs(a).ravel() for a in arrays])
    keep = np.ones(magnitudes.size, bool)
    keep[np.argsort(magnitudes, kind="stable")[: int(np.floor(sparsity * magnitudes.size))]] = False
    bounds = np.cumsum([0] + [a.size for a in arrays])
    return [keep[start:end].reshape(a.shape) for start, end, a in zip(bounds[:-1], bounds[1:], arrays)]


def apply_masks(variables, masks) -> None:
    """Zero each variable where its mask is False (in place)."""
    for variable, mask in zip(variables, masks):
        variable.assign(ops.where(mask, variable, ops.zeros_like(variable)))


class KeepPruned(keras.callbacks.Callback):
    """Re-apply pruning masks after every training step, so fine-tuning cannot regrow pruned weights.

    The optimizer still computes a gradient for a pruned weight (and AdamW's momentum moves
    it); zeroing it again after each step keeps the sparsity exact.
    """

    def __init__(self, variables, masks):
        super().__init__()
        self.variables, self.masks = list(variables), [np.asarray(m, bool) for m in masks]

    def on_train_batch_end(self, batch, logs=None):
        apply_masks(self.variables, self.masks)

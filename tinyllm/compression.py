"""Chapter 7 — making a model small: int8/int4 weight quantization, magnitude pruning.

The distillation loss is Keras's (``keras.distillation.LogitsDistillation``), so it is not here.

    quantization   r_j = q_max / max_i |w_ij|,  q_ij = clip(round(w_ij · r_j), −q_max, q_max),
                   w ≈ q / r
                   q_max = 2^(bits−1) − 1: 127 for int8, 7 for int4; one scale per output channel j
                   (Keras's quantizer, which stores the inverse scale r)
    pruning        zero the k = ⌊sparsity · N⌋ weights of smallest |w| over all N prunable weights
"""

from __future__ import annotations

import io

import keras
import numpy as np
from keras import ops

from tinyllm.validation import as_array


def quantize_weights(w, bits: int = 8, axis: int = 0):
    """Symmetric per-channel quantization with Keras's own quantizer: w (d_in, d_out) → (q int8,
    inverse scale).

    ``keras.quantizers.abs_max_quantize`` — what ``model.quantize("int8")`` runs on a Dense
    kernel — with the integer range ±q_max, q_max = 2^(bits−1) − 1 (127 for int8, 7 for int4,
    still held one per int8 byte here). One inverse scale per slice along the other axes of
    ``axis`` (``axis=0``: one per output column j), stored the way Keras stores it:
    r_j = q_max / (max_i |w_ij| + 10⁻⁷), q = clip(round(w · r), −q_max, q_max), w ≈ q / r.
    """
    w = as_array(w, "w", ndim=2, dtype="float").astype(np.float32)
    if bits not in (2, 3, 4, 5, 6, 7, 8):
        raise ValueError(f"bits must be an integer from 2 to 8, got {bits!r}")
    q_max = 2 ** (bits - 1) - 1
    q, inverse_scale = keras.quantizers.abs_max_quantize(
        w, axis=axis, value_range=(-q_max, q_max), dtype="int8", to_numpy=True
    )
    return ops.convert_to_numpy(q), np.squeeze(ops.convert_to_numpy(inverse_scale), axis=axis)


def dequantize(q, inverse_scale, axis: int = 0) -> np.ndarray:
    """q (d_in, d_out) ints and the per-channel inverse scale of :func:`quantize_weights` → float32
    q / r."""
    return (
        np.asarray(q, np.float32) / np.expand_dims(np.asarray(inverse_scale, np.float32), axis)
    ).astype(np.float32)


def model_matrices(model) -> dict:
    """Every 2-D weight of a mini GPT by path → (variable, channel axis for
    :func:`quantize_weights`).

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
    ``path + "/scale"`` (float32, the inverse scale) for each matrix, float32 for every other weight
    (biases, layer norms). The model then computes in float32 with the rounded weights, so its loss
    is exactly the loss of the stored int8 model.
    """
    matrices = model_matrices(model)
    stored = {}
    for variable in model.weights:
        value = ops.convert_to_numpy(variable)
        if variable.path in matrices:
            axis = matrices[variable.path][1]
            q, inverse_scale = quantize_weights(value, bits, axis)
            stored[variable.path + "/q"], stored[variable.path + "/scale"] = q, inverse_scale
            variable.assign(dequantize(q, inverse_scale, axis))
        else:
            stored[variable.path] = value.astype(np.float32)
    return stored


def stored_bytes(arrays: dict, compressed: bool = False) -> int:
    """Size in bytes of ``arrays`` written as one ``.npz`` file (``np.savez``, or zip-deflated)."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(
        buffer, **{k.replace("/", "."): v for k, v in arrays.items()}
    )
    return buffer.getbuffer().nbytes


def prunable_kernels(model) -> list:
    """The Dense kernels of the blocks (QKV, output, MLP): 91 % of the mini GPT's weights.

    Embeddings, biases and layer norms stay: they are few, and every token reads them.
    """
    return [v for v in model.weights if len(v.shape) == 2 and "embedding" not in v.path]


def global_magnitude_masks(weights, sparsity: float) -> list:
    """Keep-masks (bool, one per array) that zero the ⌊sparsity·N⌋ smallest |w| over all N weights
    together.

    One threshold for the whole model ("global"): layers with many small weights lose more
    of them than layers with few. Ties in |w| go in flat order (the stable sort), so exactly
    ⌊sparsity·N⌋ weights are pruned.
    """
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must lie in [0, 1], got {sparsity}")
    arrays = [
        np.asarray(ops.convert_to_numpy(w) if not isinstance(w, np.ndarray) else w) for w in weights
    ]
    magnitudes = np.concatenate([np.abs(a).ravel() for a in arrays])
    keep = np.ones(magnitudes.size, bool)
    keep[np.argsort(magnitudes, kind="stable")[: int(np.floor(sparsity * magnitudes.size))]] = False
    bounds = np.cumsum([0] + [a.size for a in arrays])
    return [
        keep[start:end].reshape(a.shape) for start, end, a in zip(bounds[:-1], bounds[1:], arrays)
    ]


def apply_masks(variables, masks) -> None:
    """Zero each variable where its mask is False (in place)."""
    for variable, mask in zip(variables, masks):
        variable.assign(ops.where(mask, variable, ops.zeros_like(variable)))


class KeepPruned(keras.callbacks.Callback):
    """Re-apply pruning masks after every training step, so fine-tuning cannot regrow pruned
    weights.

    The optimizer still computes a gradient for a pruned weight (and AdamW's momentum moves
    it); zeroing it again after each step keeps the sparsity exact.
    """

    def __init__(self, variables, masks):
        super().__init__()
        self.variables, self.masks = list(variables), [np.asarray(m, bool) for m in masks]

    def on_train_batch_end(self, batch, logs=None):
        apply_masks(self.variables, self.masks)

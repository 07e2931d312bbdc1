"""Chapter 7 — making a model small: the distillation loss, int8 quantization, magnitude pruning.

Distillation (Hinton, Vinyals & Dean, 2015). The teacher's logits z_t and the student's z_s,
both softened by a temperature T:

    p = softmax(z_t / T),  q = softmax(z_s / T)
    L_KD = T² · KL(p ‖ q) = T² · Σ_j p_j (log p_j − log q_j)       averaged over positions

KL(p ‖ q) is the cross-entropy H(p, q) minus the teacher's entropy H(p), a constant for the
student: the same gradient, but 0 when the student matches. Its gradient with respect to z_s is
(q − p)/T, which shrinks like 1/T² once T is large; T² restores its size.

Symmetric per-channel int8 quantization of a weight matrix w (d_in, d_out):

    s_j = max_i |w_ij| / 127   (1 for an all-zero column),   q_ij = clip(round(w_ij / s_j), −127,
    127)

with round half to even, so that w ≈ q · s. Global magnitude pruning zeroes the
⌊sparsity · N⌋ entries of smallest |w| (ties broken by the lower flat index).

These are the exercise answers, in NumPy. The library does not repeat them: the chapter uses
Keras's ``LogitsDistillation`` and ``abs_max_quantize`` (which keeps the inverse scale), and
:mod:`tinyllm.compression` computes pruning masks over many arrays; the tests show they agree.
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import as_array, require_same_shape


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def distillation_loss(teacher_logits, student_logits, temperature):
    """T² · mean over positions of KL(softmax(teacher/T) ‖ softmax(student/T)); (…, v) each →
    float."""
    teacher = as_array(teacher_logits, "teacher_logits", min_ndim=1, dtype="float").astype(
        np.float64
    )
    student = as_array(student_logits, "student_logits", min_ndim=1, dtype="float").astype(
        np.float64
    )
    require_same_shape(teacher, student, "teacher_logits", "student_logits")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    log_p, log_q = _log_softmax(teacher / temperature), _log_softmax(student / temperature)
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=-1)
    return float(temperature**2 * kl.mean())


def quantize_int8(w):
    """w (d_in, d_out) → (q int8 (d_in, d_out), scale float32 (d_out,)) with w ≈ q · scale."""
    w = as_array(w, "w", ndim=2, dtype="float").astype(np.float32)
    largest = np.abs(w).max(axis=0)
    scale = np.where(largest > 0, largest / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, scale


def magnitude_prune(w, sparsity):
    """w with the ⌊sparsity · w.size⌋ entries of smallest |w| set to 0 (ties: lower flat index
    first)."""
    w = as_array(w, "w")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must lie in [0, 1], got {sparsity}")
    count = int(np.floor(sparsity * w.size))
    flat = w.ravel().copy()
    flat[np.argsort(np.abs(flat), kind="stable")[:count]] = 0
    return flat.reshape(w.shape)

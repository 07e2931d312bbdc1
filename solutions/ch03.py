"""Chapter 3 — autoencoders and their reconstruction losses.

An autoencoder maps an input x (D features) through an encoder to a code
z = f(x) with k < D numbers (the bottleneck) and back through a decoder to a
reconstruction x̂ = g(z). Training asks x̂ to be close to x. With N samples:

    MSE reconstruction loss   L_MSE = (1/N) Σ_i ‖x_i − x̂_i‖²     (sum over the D features)
    BCE reconstruction loss   L_BCE = −(1/N) Σ_i Σ_j [x_ij log x̂_ij
                                                     + (1 − x_ij) log(1 − x̂_ij)]

Keras's built-in losses average over the feature axis instead of summing, so
    L_MSE = D · mean_i keras.losses.mean_squared_error(x_i, x̂_i)      (same for BCE),
which multiplies every gradient by 1/D: plain SGD then takes D-times smaller
steps; Adam divides the factor back out (its step is m/√v, invariant to a
constant scale of the loss, up to its ε).

Both are negative log-likelihoods:
    −log N(x; x̂, σ²I)     = ‖x − x̂‖² / (2σ²) + (D/2) log(2πσ²)            (Gaussian → MSE)
    −log Bernoulli(x; x̂)  = −Σ_j [x_j log x̂_j + (1 − x_j) log(1 − x̂_j)]   (Bernoulli → BCE)
With a sigmoid output x̂ = σ(a), ∂BCE/∂a = x̂ − x (no σ' factor, so it never
saturates), while ∂‖x − x̂‖²/∂a = 2 (x̂ − x) σ'(a) vanishes when σ saturates.

PCA is the best linear autoencoder: with the training mean μ and the top-k
right singular vectors V_k (D, k) of the centred training data,
    x̂ = μ + (x − μ) V_k V_kᵀ.
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import (
    as_array,
    require_positive_int,
    require_range,
    require_same_shape,
)

EPSILON = 1e-7


def _batch_arrays(x, x_hat):
    x = as_array(x, "x", dtype="float", min_ndim=1).astype(np.float64)
    x_hat = as_array(x_hat, "x_hat", dtype="float", min_ndim=1).astype(np.float64)
    require_same_shape(x, x_hat, "x", "x_hat")
    if x.shape[0] == 0:
        raise ValueError(
            "x and x_hat must hold at least one sample (their first axis is the batch)"
        )
    return x.reshape(len(x), -1), x_hat.reshape(len(x_hat), -1)


def mse_reconstruction_loss(x, x_hat):
    """L = (1/N) Σ_i ‖x_i − x̂_i‖²: squared error summed over every non-batch axis, averaged over
    samples.

    x, x_hat: (N, ...) with the same shape; returns a float32 scalar.
    Equals D × Keras's ``mean_squared_error`` (which averages over the features).
    """
    x, x_hat = _batch_arrays(x, x_hat)
    return np.float32(np.mean(np.sum((x - x_hat) ** 2, axis=1)))


def bce_reconstruction_loss(x, x_hat):
    """Binary cross-entropy summed over every non-batch axis, averaged over samples (natural log).

    x, x_hat: (N, ...) in [0, 1]; x_hat is clipped to [1e-7, 1 − 1e-7] before the logs.
    Equals D × Keras's ``binary_crossentropy`` (which averages over the features).
    """
    x, x_hat = _batch_arrays(x, x_hat)
    require_range(x, "x", 0.0, 1.0)
    require_range(x_hat, "x_hat (probabilities, e.g. a sigmoid output)", 0.0, 1.0)
    p = np.clip(x_hat, EPSILON, 1 - EPSILON)
    per_element = -(x * np.log(p) + (1 - x) * np.log(1 - p))
    return np.float32(np.mean(np.sum(per_element, axis=1)))


def pca_reconstruction(x_train, x, k):
    """Reconstruct ``x`` (M, D) from its projection on the top-``k`` principal components of
    ``x_train`` (N, D).

    μ = mean of x_train; V_k = the first k right singular vectors of (x_train − μ);
    x̂ = μ + (x − μ) V_k V_kᵀ, shape (M, D). Only x_train decides μ and V_k.
    """
    x_train = as_array(x_train, "x_train", ndim=2, dtype="float").astype(np.float64)
    x = as_array(x, "x", ndim=2, dtype="float").astype(np.float64)
    k = require_positive_int(k, "k")
    if x.shape[1] != x_train.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but x_train has {x_train.shape[1]}")
    if k > min(x_train.shape):
        raise ValueError(
            f"k must be at most min(N, D) = {min(x_train.shape)} for x_train of shape "
            f"{x_train.shape}"
        )
    mean = x_train.mean(axis=0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    components = vt[:k]  # (k, D)
    return ((x - mean) @ components.T @ components + mean).astype(np.float32)


ACTIVATIONS = ("relu", "sigmoid", "linear")


def _sigmoid(a):
    """σ(a) = 1/(1 + e^(−a)) without overflow: e^(−|a|) ≤ 1, so neither branch ever computes
    e^(1e4)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _dense_stack(h, layers, name):
    """Apply the dict layers of ``name`` (a list) in order to h (n, width), each y =
    activation(h·kernel + bias).

    Returns the output (float64) and the dtypes of the weights met."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(
            f"{name} must be a non-empty list of layer dicts, got {type(layers).__name__}"
        )
    dtypes = []
    for i, layer in enumerate(layers):
        where = f"{name}[{i}]"
        if not isinstance(layer, dict):
            raise TypeError(
                f"{where} must be a dict with kernel, bias and activation, got "
                f"{type(layer).__name__}"
            )
        missing = [key for key in ("kernel", "bias", "activation") if key not in layer]
        if missing:
            raise ValueError(f"{where} is missing {', '.join(missing)}")
        kernel = as_array(layer["kernel"], f"{where}['kernel']", ndim=2, dtype="float")
        bias = as_array(layer["bias"], f"{where}['bias']", ndim=1, dtype="float")
        if kernel.shape[0] != h.shape[1]:
            raise ValueError(
                f"{where}['kernel'] has shape {kernel.shape} but its input has {h.shape[1]} "
                "features: "
                f"a layer's kernel is (in, out), with in = the previous layer's out"
            )
        if bias.shape != (kernel.shape[1],):
            raise ValueError(
                f"{where}['bias'] must have shape ({kernel.shape[1]},) to match its kernel "
                f"{kernel.shape}, got {bias.shape}"
            )
        activation = layer["activation"]
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(
                f"{where}['activation'] must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
            )
        a = h @ kernel.astype(np.float64) + bias.astype(np.float64)
        h = (
            np.maximum(a, 0.0)
            if activation == "relu"
            else _sigmoid(a)
            if activation == "sigmoid"
            else a
        )
        dtypes += [kernel.dtype, bias.dtype]
    return h, dtypes


def autoencoder_forward(x, encoder_layers, decoder_layers):
    """An autoencoder's encode–decode in NumPy: x (n, D) → (z (n, k), x̂ (n, D_out)).

    Each layer is a dict {"kernel": (in, out), "bias": (out,), "activation": "relu" | "sigmoid" |
    "linear"} (Keras's Dense layout) and computes y = activation(h·kernel + bias); the layers run in
    order:

        z = encoder_L(… encoder_1(x)),   x̂ = decoder_M(… decoder_1(z))

    σ(a) is computed without overflow for |a| up to 1e4. Computed in float64; returned float32
    unless x or a weight is float64.
    """
    x = as_array(x, "x", ndim=2, dtype="float")
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample, got shape {x.shape}")
    z, encoder_dtypes = _dense_stack(x.astype(np.float64), encoder_layers, "encoder_layers")
    x_hat, decoder_dtypes = _dense_stack(z, decoder_layers, "decoder_layers")
    dtype = np.result_type(x.dtype, *encoder_dtypes, *decoder_dtypes)
    return z.astype(dtype), x_hat.astype(dtype)

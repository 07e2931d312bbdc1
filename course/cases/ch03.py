"""Chapter 3 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise

f32 = lambda *rows: np.array(rows, dtype=np.float32)  # noqa: E731


@exercise(
    "ch03.mse_reconstruction_loss",
    "mse_reconstruction_loss(x, x_hat)",
    "(1/N) Σ_i ‖x_i − x̂_i‖²: squared error summed over every non-batch axis, averaged over samples",
    rtol=1e-5,
    atol=1e-6,
)
def mse_reconstruction_loss_cases():
    rng = np.random.default_rng(3)
    x = rng.random((3, 4)).astype(np.float32)
    images = rng.random((2, 3, 3)).astype(np.float32)
    return [
        Case(
            "one sample of three features",
            (f32([0.0, 0.5, 1.0]), f32([0.1, 0.5, 0.7])),
            hint="‖x − x̂‖² is the sum of the squared differences: 0.1² + 0² + 0.3²",
        ),
        Case(
            "squared, not absolute and not square-rooted",
            (f32([0.0, 1.0], [1.0, 0.0]), f32([2.0, 0.5], [0.5, 0.0])),
            hint="square each difference (no abs, and no square root of the sum: ‖·‖² is the "
            "squared norm)",
        ),
        Case(
            "a batch: sum over features, mean over samples",
            (x, x[::-1] * 0.5),
            hint="sum over the features, then average over the N samples; np.mean over everything "
            "(what Keras's mean_squared_error does per sample) is D times smaller",
        ),
        Case(
            "images: every non-batch axis is summed",
            (images, np.zeros_like(images)),
            hint="sum over all axes except the first (e.g. reshape to (N, -1)), not only the "
            "last one",
        ),
        Case("a perfect reconstruction costs 0", (x, x.copy()), hint="x̂ = x gives exactly 0"),
    ]


@exercise(
    "ch03.bce_reconstruction_loss",
    "bce_reconstruction_loss(x, x_hat)",
    "binary cross-entropy (natural log) summed over every non-batch axis, averaged over samples; "
    "x̂ clipped to [1e-7, 1-1e-7]",
    rtol=1e-5,
    atol=1e-5,
)
def bce_reconstruction_loss_cases():
    rng = np.random.default_rng(4)
    grey = rng.random((3, 4)).astype(np.float32)
    images = rng.random((2, 2, 3)).astype(np.float32)
    return [
        Case(
            "one image of three pixels",
            (f32([1.0, 0.0, 1.0]), f32([0.9, 0.2, 0.6])),
            hint="per pixel −[x log x̂ + (1 − x) log(1 − x̂)] with the natural log, summed "
            "over the pixels",
        ),
        Case(
            "grey pixels: sum over pixels, mean over samples",
            (grey, rng.uniform(0.05, 0.95, (3, 4)).astype(np.float32)),
            hint="x may be any value in [0, 1]; sum over the pixels, then average over the N "
            "samples "
            "(Keras's binary_crossentropy averages over the pixels: D times smaller)",
        ),
        Case(
            "images: every non-batch axis is summed",
            (images, np.full_like(images, 0.5)),
            hint="sum over all axes except the first (e.g. reshape to (N, -1)), not only the "
            "last one",
        ),
        Case(
            "a prediction of exactly 0 is clipped",
            (f32([1.0, 0.0, 1.0], [0.0, 1.0, 0.5]), f32([0.0, 0.0, 1.0], [0.5, 0.5, 0.5])),
            hint="clip x̂ to [1e-7, 1 − 1e-7] before the logs: log(0) = −inf and 0·log(0) is NaN",
        ),
        Case(
            "both terms count",
            (f32([0.0, 0.0, 0.0, 0.0]), f32([0.1, 0.2, 0.3, 0.4])),
            hint="where x = 0 the loss is −log(1 − x̂); do not drop the (1 − x) term",
        ),
    ]


@exercise(
    "ch03.pca_reconstruction",
    "pca_reconstruction(x_train, x, k)",
    "x̂ = μ + (x − μ) V_k V_kᵀ with μ and the top-k principal directions V_k of x_train",
    rtol=1e-4,
    atol=1e-4,
)
def pca_reconstruction_cases():
    rng = np.random.default_rng(5)
    direction = np.array([0.6, 0.8, 0.0])
    line = (
        rng.normal(size=(20, 1)) * direction
        + rng.normal(0, 0.05, (20, 3))
        + np.array([1.0, 2.0, 3.0])
    )
    scales = np.array([3.0, 2.0, 1.0, 0.5])
    spread = (rng.normal(size=(30, 4)) * scales).astype(np.float32)
    wide = (rng.normal(size=(25, 3)) * np.array([10.0, 1.0, 0.1]) + 5.0).astype(np.float32)
    return [
        Case(
            "points near a line, k = 1",
            (line.astype(np.float32), f32([1.6, 2.8, 3.0], [0.0, 0.0, 0.0]), 1),
            hint="centre with the mean μ of x_train, project on the first principal "
            "direction, then add μ back",
        ),
        Case(
            "new points use the training mean",
            (line.astype(np.float32), f32([11.0, 12.0, 13.0], [10.0, 10.0, 10.0]), 1),
            hint="μ and V_k come from x_train only: do not centre x with its own mean",
        ),
        Case(
            "the top components, not the last ones",
            (spread, spread[:5] + 1.0, 2),
            hint="np.linalg.svd sorts singular values in decreasing order: take the first k "
            "rows of Vᵀ "
            "(np.linalg.eigh sorts eigenvalues in increasing order)",
        ),
        Case(
            "centred but not standardised",
            (wide, wide[:4], 1),
            hint="PCA here subtracts the mean but does not divide by the standard deviation",
        ),
        Case(
            "k = D reconstructs exactly",
            (spread, spread[:3], 4),
            hint="with every component, x̂ = x",
        ),
    ]


def _layer(rng, n_in, n_out, activation, scale=1.0, bias=0.5):
    """One Dense layer as a dict, float32: kernel ~ N(0, scale²/n_in), bias ~ N(0, bias²) (far from
    0)."""
    return {
        "kernel": (rng.normal(size=(n_in, n_out)) * scale / np.sqrt(n_in)).astype(np.float32),
        "bias": (rng.normal(size=n_out) * bias).astype(np.float32),
        "activation": activation,
    }


def _stack(seed, widths, activations, **kwargs):
    rng = np.random.default_rng(seed)
    return [_layer(rng, a, b, act, **kwargs) for a, b, act in zip(widths, widths[1:], activations)]


# Outputs are O(1) except in the huge-logits case (codes up to ~1e4): rtol 1e-4 is far above float32
# round-off of a correct answer (measured in tests/mutants/ch03.py's alternatives) and far below
# every mistake.
@exercise(
    "ch03.autoencoder_forward",
    "autoencoder_forward(x, encoder_layers, decoder_layers)",
    "each layer y = activation(x·kernel + bias), applied in order; returns (z = encoder(x), x̂ = "
    "decoder(z)); "
    "sigmoid stable for |logits| up to 1e4",
    rtol=1e-4,
    atol=1e-5,
)
def autoencoder_forward_cases():
    rng = np.random.default_rng(30)
    x5 = rng.random((3, 5)).astype(np.float32)
    x3 = rng.normal(size=(4, 3)).astype(np.float32)
    return [
        Case(
            "one layer each way: 4 → 2 (linear code) → 4 (sigmoid)",
            (x5[:, :4], _stack(31, (4, 2), ["linear"]), _stack(32, (2, 4), ["sigmoid"])),
            hint="each layer computes activation(h @ kernel + bias): kernel is (in, out), so "
            "h @ kernel, not "
            "kernel.T; add the bias; return the pair (z, x_hat) in that order, z the encoder's "
            "output, x_hat "
            "the decoder's output on z. Apply each layer's own activation: 'linear' is none (the "
            "code z here may be "
            "negative), and the last layer's 'sigmoid' turns its logits into values in (0, 1)",
        ),
        Case(
            "a hidden relu layer each way: 5 → 4 → 2 → 4 → 5",
            (
                x5,
                _stack(33, (5, 4, 2), ["relu", "linear"]),
                _stack(34, (2, 4, 5), ["relu", "sigmoid"]),
            ),
            hint="run the layers in order, each one reading the previous layer's output (h = "
            "layer(h)); the "
            "decoder starts from z. 'relu' is max(a, 0), 'sigmoid' 1/(1 + e^(−a)), and 'linear' "
            "leaves a as "
            "it is: the code z is linear here and may be negative",
        ),
        Case(
            "a linear autoencoder: every activation is 'linear'",
            (x5, _stack(37, (5, 2), ["linear"]), _stack(38, (2, 5), ["linear"])),
            hint="read each layer's 'activation' instead of assuming one: 'linear' means no "
            "activation at all, "
            "not even on the last layer",
        ),
        Case(
            "square kernels: every layer 3 → 3",
            (
                x3,
                _stack(35, (3, 3, 3), ["relu", "linear"]),
                _stack(36, (3, 3, 3), ["relu", "linear"]),
            ),
            hint="with square kernels a mistake does not crash: use h @ kernel (kernel is "
            "(in, out), Keras's Dense "
            "layout), feed the decoder the code z (not x), and return (z, x_hat) in that order",
        ),
        Case(
            "huge logits (up to ±1e4): the sigmoid must not overflow",
            (
                f32([1.0, -1.0], [0.5, 2.0]),
                _stack(39, (2, 2), ["linear"], scale=3e3, bias=0.0),
                _stack(40, (2, 3), ["sigmoid"], scale=3.0, bias=0.0),
            ),
            hint="e^a overflows to inf for a ≳ 710 and e^a / (1 + e^a) is then inf/inf = NaN; "
            "use e^(−|a|), "
            "which never overflows: σ(a) = 1/(1 + e^(−|a|)) for a ≥ 0, e^(−|a|)/(1 + e^(−|a|)) for "
            "a < 0",
        ),
    ]

"""Chapter 3 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch03.mse_reconstruction_loss")
def _mse(rng):
    x = rng.random((7, 8, 8)).astype(np.float32)
    return [
        Case(
            "random images", (x, np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype(np.float32))
        ),
        Case("one sample", (x[:1].reshape(1, -1), rng.random((1, 64)).astype(np.float32))),
        Case(
            "values outside [0, 1] are fine for MSE",
            (rng.normal(0, 3, (5, 6)), rng.normal(0, 3, (5, 6))),
        ),
        Case(
            "1-D: each sample is one number",
            (rng.random(9).astype(np.float32), rng.random(9).astype(np.float32)),
        ),
    ]


@hidden("ch03.bce_reconstruction_loss")
def _bce(rng):
    x = rng.random((6, 8, 8)).astype(np.float32)
    binary = (rng.random((5, 10)) > 0.5).astype(np.float32)
    return [
        Case("random grey images", (x, rng.uniform(0.01, 0.99, x.shape).astype(np.float32))),
        Case("binary images", (binary, rng.uniform(0.01, 0.99, binary.shape).astype(np.float32))),
        Case("exact zeros in x_hat", (binary, np.where(binary > 0, 0.0, 0.5).astype(np.float32))),
        Case("float64", (rng.random((4, 3)), rng.uniform(0.1, 0.9, (4, 3)))),
    ]


@hidden("ch03.pca_reconstruction")
def _pca(rng):
    x_train = (
        rng.normal(size=(40, 6)) * np.array([4, 3, 2, 1, 0.5, 0.25]) + rng.normal(size=6)
    ).astype(np.float32)
    x = rng.normal(size=(7, 6)).astype(np.float32) * 2
    return [
        Case("random, k = 3", (x_train, x, 3)),
        Case("random, k = 1", (x_train, x, 1)),
        Case("the training data themselves", (x_train, x_train[:10], 2)),
    ]


def _dense_layers(rng, widths, activations, dtype=np.float32):
    """Dict layers widths[i] → widths[i+1] with the given activations, random non-zero biases."""
    return [
        {
            "kernel": (rng.normal(size=(a, b)) * 1.5 / np.sqrt(a)).astype(dtype),
            "bias": (rng.normal(size=b) * 0.3).astype(dtype),
            "activation": act,
        }
        for a, b, act in zip(widths, widths[1:], activations)
    ]


@hidden("ch03.autoencoder_forward")
def _autoencoder_forward(rng):
    n, d, k = int(rng.integers(2, 9)), int(rng.integers(6, 17)), int(rng.integers(1, 5))
    h1, h2 = int(rng.integers(k + 1, 2 * d)), int(rng.integers(k + 1, 2 * d))
    x = rng.random((n, d)).astype(np.float32)

    def model(dtype=np.float32, hidden=(h1,), output="sigmoid"):
        widths = (d, *hidden, k)
        encoder = _dense_layers(rng, widths, ["relu"] * len(hidden) + ["linear"], dtype)
        decoder = _dense_layers(rng, widths[::-1], ["relu"] * len(hidden) + [output], dtype)
        return encoder, decoder

    return [
        Case("random shapes, one hidden relu layer each way", (x, *model())),
        Case("one sample", (x[:1], *model())),
        Case("two hidden layers each way", (x, *model(hidden=(h1, h2)))),
        Case("a linear autoencoder", (x, *model(hidden=(), output="linear"))),
        Case(
            "float64 inputs and weights",
            (x.astype(np.float64), *model(np.float64, hidden=(h1, h2))),
        ),
        Case(
            "sigmoid hidden layers and a linear output",
            (
                x,
                _dense_layers(rng, (d, h1, k), ["sigmoid", "linear"]),
                _dense_layers(rng, (k, h2, d), ["sigmoid", "linear"]),
            ),
        ),
        Case("huge inputs: saturated sigmoids", ((x - 0.5) * 1e4, *model())),
    ]

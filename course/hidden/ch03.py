"""Chapter 3 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch03.mse_reconstruction_loss")
def _mse(rng):
    x = rng.random((7, 8, 8)).astype(np.float32)
    return [
        Case("random images", (x, np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype(np.float32))),
        Case("one sample", (x[:1].reshape(1, -1), rng.random((1, 64)).astype(np.float32))),
        Case("values outside [0, 1] are fine for MSE", (rng.normal(0, 3, (5, 6)), rng.normal(0, 3, (5, 6)))),
        Case("1-D: each sample is one number", (rng.random(9).astype(np.float32), rng.random(9).astype(np.float32))),
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
    x_train = (rng.normal(size=(40, 6)) * np.array([4, 3, 2, 1, 0.5, 0.25]) + rng.normal(size=6)).astype(np.float32)
    x = rng.normal(size=(7, 6)).astype(np.float32) * 2
    return [
        Case("random, k = 3", (x_train, x, 3)),
        Case("random, k = 1", (x_train, x, 1)),
        Case("the training data themselves", (x_train, x_train[:10], 2)),
    ]

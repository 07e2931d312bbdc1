"""Chapter 1 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise

f32 = lambda *values: np.array(values, dtype=np.float32)  # noqa: E731


@exercise(
    "ch01.sigmoid", "sigmoid(z)", "elementwise 1/(1+e^-z), finite and correct for |z| up to 1e4"
)
def sigmoid_cases():
    return [
        Case("zero", (f32(0.0),), hint="sigmoid(0) = 1/(1+e^0) = 0.5"),
        Case(
            "small values",
            (f32(-2, -1, 0, 1, 2),),
            hint="check the sign of the exponent: e^(-z), not e^z",
        ),
        Case(
            "a 2-D array keeps its shape",
            (np.array([[-3, 0.5], [4, -0.25]], np.float32),),
            hint="work elementwise and return the same shape as z",
        ),
        Case(
            "large |z|",
            (f32(-1e4, -50, 50, 1e4),),
            hint="e^z overflows for z = 1e4 and inf/inf is NaN; use e^(-|z|), which never "
            "overflows",
        ),
        Case("float64 input", (np.array([-0.5, 0.5, 20.0]),), hint="do not round or cast to int"),
    ]


@exercise("ch01.relu", "relu(x)", "elementwise max(x, 0)")
def relu_cases():
    return [
        Case(
            "mixed signs",
            (f32(-2, -0.5, 0, 0.5, 2),),
            hint="negative inputs become 0, positive ones pass unchanged; work elementwise "
            "with np.maximum (Python's max() compares whole arrays)",
        ),
        Case(
            "large positive values are not capped",
            (f32(1, 6, 100, 1e4),),
            hint="ReLU has no upper limit (that would be ReLU6 or a clip)",
        ),
        Case(
            "negative values become exactly 0",
            (f32(-1e4, -3, -1e-3),),
            hint="not 0.01·x: that is leaky ReLU",
        ),
        Case(
            "a 2-D array keeps its shape",
            (np.array([[-1, 2, -3], [4, -5, 6]], np.float32),),
            hint="use np.maximum(x, 0), elementwise; Python's max() compares whole arrays",
        ),
    ]


@exercise(
    "ch01.binary_cross_entropy",
    "binary_cross_entropy(y_true, y_pred, from_logits=False)",
    "mean BCE (natural log); probabilities clipped to [1e-7, 1-1e-7]; stable from logits",
    rtol=1e-4,
    atol=1e-5,
)
def binary_cross_entropy_cases():
    return [
        Case(
            "confident and right, confident and wrong",
            (f32(1, 0, 1, 0), f32(0.9, 0.1, 0.2, 0.8)),
            hint="loss_i = -[y log p + (1-y) log(1-p)], then the mean over all elements (not "
            "the sum)",
        ),
        Case(
            "a 2-D batch: mean over every element",
            (
                np.array([[1, 0, 1], [0, 0, 1]], np.float32),
                np.array([[0.7, 0.2, 0.6], [0.4, 0.1, 0.95]], np.float32),
            ),
            hint="average over all elements, not only over the first axis",
        ),
        Case(
            "probabilities of exactly 0 and 1 are clipped",
            (f32(1, 1, 0), f32(0.0, 1.0, 0.0)),
            hint="clip y_pred to [1e-7, 1-1e-7] before the log: log(0) is -inf and 0·log(0) is NaN",
        ),
        Case(
            "logits",
            (f32(1, 0, 1, 0), f32(2.0, -1.0, -0.5, 0.3)),
            {"from_logits": True},
            hint="with from_logits=True, y_pred holds z; p = sigmoid(z)",
        ),
        Case(
            "huge logits stay finite",
            (f32(0, 1, 1, 0), f32(1e4, -1e4, 1e4, -1e4)),
            {"from_logits": True},
            hint="use max(z,0) - z·y + log(1+e^-|z|): sigmoid then log loses everything for "
            "|z| = 1e4",
        ),
    ]


@exercise(
    "ch01.logistic_regression_gradients",
    "logistic_regression_gradients(w, b, x, y)",
    "gradients (dw, db) of the mean BCE of sigmoid(x·w+b)",
    rtol=1e-4,
    atol=1e-6,
)
def logistic_regression_gradients_cases():
    x = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -1.5]], np.float32)
    rng = np.random.default_rng(1)
    x5 = rng.normal(size=(5, 3)).astype(np.float32)
    return [
        Case(
            "zero weights",
            (np.zeros(2, np.float32), 0.0, x, f32(1, 0, 1)),
            hint="p = sigmoid(x·w + b) = 0.5 here; dw = xᵀ(p - y)/n and db = mean(p - y)",
        ),
        Case(
            "non-zero weights and bias",
            (f32(0.5, -1.0), 0.25, x, f32(0, 1, 1)),
            hint="the gradient is (p - y), not (y - p): gradient descent subtracts it",
        ),
        Case(
            "five samples, three features",
            (f32(0.1, -0.2, 0.3), -0.1, x5, f32(1, 0, 0, 1, 1)),
            hint="divide by n (the loss is a mean); dw has shape (d,), db is a scalar",
        ),
        Case(
            "a large bias saturates the sigmoid",
            (f32(0.0, 0.0), 40.0, x, f32(0, 0, 1)),
            hint="use a stable sigmoid so p is 1, not NaN",
        ),
    ]

"""Chapter 2 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise


def _lstm_weights(n, units, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(0, scale, (n, 4 * units)).astype(np.float32),
        rng.normal(0, scale, (units, 4 * units)).astype(np.float32),
        rng.normal(0, scale, 4 * units).astype(np.float32),
    )


@exercise(
    "ch02.lstm_cell_step",
    "lstm_cell_step(x, h, c, kernel, recurrent_kernel, bias)",
    "one LSTM step, Keras weight layout (gates i, f, c, o); returns (h_new, c_new)",
    rtol=1e-4,
    atol=1e-5,
)
def lstm_cell_step_cases():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    h = rng.normal(0, 0.5, size=(2, 2)).astype(np.float32)
    c = rng.normal(0, 1.0, size=(2, 2)).astype(np.float32)
    zeros = np.zeros((3, 8), np.float32), np.zeros((2, 8), np.float32), np.zeros(8, np.float32)
    # One distinct bias per gate block (i, f, c, o) and no weights: the gate order decides the
    # answer.
    gate_bias = np.repeat(np.array([2.0, -1.0, 0.5, -3.0], np.float32), 2)
    x4 = rng.normal(size=(4, 5)).astype(np.float32)
    h4 = rng.normal(0, 0.5, size=(4, 3)).astype(np.float32)
    c4 = rng.normal(0, 1.0, size=(4, 3)).astype(np.float32)
    return [
        Case(
            "all weights zero: every gate is sigmoid(0) = 0.5, the candidate tanh(0) = 0",
            (x, h, c, *zeros),
            hint="c_new = f*c + i*g = 0.5*c here, and h_new = o*tanh(c_new); return (h_new, "
            "c_new) in that order",
        ),
        Case(
            "one bias per gate block: the order is i, f, c (candidate), o",
            (x, h, c, zeros[0], zeros[1], gate_bias),
            hint="split z = x@kernel + h@recurrent_kernel + bias into 4 equal blocks along "
            "the last axis, "
            "in the order input, forget, candidate, output (Keras's layout, not TF1's i, j, f, o)",
        ),
        Case(
            "random weights, batch 2, 3 inputs, 2 units",
            (x, h, c, *_lstm_weights(3, 2, 1)),
            hint="the candidate uses tanh, the three gates use sigmoid; h_new = o * "
            "tanh(c_new), not o * c_new",
        ),
        Case(
            "the previous state h matters (recurrent_kernel)",
            (np.zeros((4, 5), np.float32), h4, c4, *_lstm_weights(5, 3, 2)),
            hint="z = x @ kernel + h @ recurrent_kernel + bias: the recurrent term uses the "
            "previous h",
        ),
        Case(
            "batch 4, 5 inputs, 3 units",
            (x4, h4, c4, *_lstm_weights(5, 3, 3)),
            hint="shapes: x (b, n) @ kernel (n, 4u) and h (b, u) @ recurrent_kernel (u, 4u) "
            "both give (b, 4u)",
        ),
    ]


@exercise(
    "ch02.shift_right",
    "shift_right(targets, start_id)",
    "decoder inputs for teacher forcing: start_id, then targets[:, :-1]",
)
def shift_right_cases():
    return [
        Case(
            "one sentence",
            (np.array([[5, 6, 7, 2]]), 1),
            hint="the decoder input at step t is the target at step t-1; step 0 gets start_id",
        ),
        Case(
            "a padded batch",
            (np.array([[5, 6, 7, 2, 0], [8, 2, 0, 0, 0], [9, 9, 4, 3, 2]]), 1),
            hint="shift every row right along the time axis (axis 1), not the batch axis; "
            "the last column falls off so the shape stays (b, t)",
        ),
        Case(
            "another start id",
            (np.array([[3, 4, 2], [4, 2, 0]]), 7),
            hint="use the start_id argument, do not hard-code it",
        ),
        Case(
            "a single time step",
            (np.array([[4], [9]]), 1),
            hint="with t = 1 the only decoder input is start_id",
        ),
        Case(
            "the last target is dropped, not wrapped around",
            (np.array([[11, 12, 13, 14, 15, 16]]), 1),
            hint="np.roll puts the last target at the front; the front must be start_id",
        ),
    ]


@exercise(
    "ch02.masked_sequence_cross_entropy",
    "masked_sequence_cross_entropy(y_true, logits, mask)",
    "mean of -log softmax(logits)[y_true] over the unmasked positions",
    rtol=1e-4,
    atol=1e-5,
)
def masked_sequence_cross_entropy_cases():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(2, 4, 5)).astype(np.float32)
    y = np.array([[1, 3, 2, 0], [4, 2, 0, 0]])
    full = np.ones((2, 4), np.float32)
    padded = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)
    lengths = np.array([[1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]], np.float32)
    logits6 = rng.normal(0, 2, size=(2, 6, 3)).astype(np.float32)
    y6 = rng.integers(0, 3, size=(2, 6))
    huge = np.array([[[1e4, 0.0, -1e4], [0.0, 5e3, 0.0]]], np.float32)
    return [
        Case(
            "no padding: the mean over every position",
            (y, logits, full),
            hint="loss = -log softmax(logits)[y_true] at each position, then the mean: sum / count",
        ),
        Case(
            "padding at the end of each sentence",
            (y, logits, padded),
            hint="multiply by the mask and divide by mask.sum() (the number of real tokens), "
            "not by b*t",
        ),
        Case(
            "sentences of different lengths: every token counts equally",
            (y6, logits6, lengths),
            hint="average over all unmasked tokens of the batch at once, not per sentence and "
            "then over sentences",
        ),
        Case(
            "a mask with holes in the middle",
            (y, logits, np.array([[0, 1, 0, 1], [1, 0, 1, 0]], np.float32)),
            hint="use the mask exactly as given, position by position",
        ),
        Case(
            "huge logits stay finite",
            (np.array([[2, 1]]), huge, np.ones((1, 2), np.float32)),
            hint="log softmax(z) = z - max(z) - log(sum(exp(z - max(z)))): exp(1e4) overflows "
            "otherwise",
        ),
    ]


def _decoder_params(seed, vocabulary, e, units, lstm="random", gate_bias=None):
    """Weights of one decoder step, by the names of ch02.decoder_step, float32.

    ``lstm="zero"``: kernel, recurrent kernel and bias all zero (every gate σ(0) = 0.5, the
    candidate tanh(0) = 0); ``gate_bias`` then sets one bias value per gate block i, f, c, o. The
    dense bias is always far from 0, so forgetting it shows.
    """
    rng = np.random.default_rng(seed)
    normal = lambda *shape, scale=1.0: (rng.normal(size=shape) * scale).astype(np.float32)  # noqa: E731
    kernel, recurrent_kernel, bias = _lstm_weights(e, units, seed + 100, scale=0.6)
    if lstm == "zero":
        kernel, recurrent_kernel, bias = (
            np.zeros_like(kernel),
            np.zeros_like(recurrent_kernel),
            np.zeros_like(bias),
        )
    if gate_bias is not None:
        bias = np.repeat(np.asarray(gate_bias, np.float32), units)
    return {
        "embedding": normal(vocabulary, e),
        "kernel": kernel,
        "recurrent_kernel": recurrent_kernel,
        "bias": bias,
        "dense_kernel": normal(units, vocabulary, scale=2.0),
        "dense_bias": normal(vocabulary, scale=1.5),
    }


def _state(seed, b, units):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (b, units)).astype(np.float32), rng.normal(0, 1.5, (b, units)).astype(
        np.float32
    )


# Every case has e = V (5), so a one-hot input x = eye(V)[ids] has the embedding's shape and gives
# wrong numbers (case 4) rather than a shape error. Measured as the largest |got − expected| / (atol
# + rtol·|expected|) over a case (1 = the edge): a correct answer 0.0005 (float64, einsum) to 0.005
# (float32 Keras LSTMCell); each named mistake ≥ 4e3 in the first case it fails, whose hint names it
# (gate order case 3, embedding case 4, c' for h' / the old state / tanh(c) case 2, softmax and the
# dense bias case 1).
@exercise(
    "ch02.decoder_step",
    "decoder_step(token_ids, h, c, params)",
    "one decoder step: x = embedding[token_ids]; (h', c') = LSTM step of x from (h, c); "
    "logits = h'·dense_kernel + dense_bias; returns (logits, h', c')",
    rtol=1e-4,
    atol=1e-5,
)
def decoder_step_cases():
    zeros = np.zeros((3, 4), np.float32)
    h, c = _state(1, 3, 4)
    h4, c4 = _state(2, 4, 3)
    return [
        Case(
            "state zero and every LSTM weight zero: h' = c' = 0, so logits = dense_bias",
            (np.array([0, 3, 1]), zeros, zeros, _decoder_params(10, 5, 5, 4, lstm="zero")),
            hint="logits = h'·dense_kernel + dense_bias: add the dense bias, and return the "
            "raw scores, not "
            "softmax probabilities (greedy decoding takes the argmax of the logits)",
        ),
        Case(
            "every LSTM weight zero, c ≠ 0: each gate is σ(0) = 0.5 and the candidate tanh(0) = 0",
            (np.array([2, 2, 4]), h, c, _decoder_params(11, 5, 5, 4, lstm="zero")),
            hint="c' = f⊙c + i⊙g = 0.5·c here and h' = o⊙tanh(c'), with the new c' (not the "
            "old c); the "
            "logits come from h' (not c'); return (logits, h', c'), the new state, not the (h, c) "
            "you got",
        ),
        Case(
            "one bias per gate block: the order is i, f, c (candidate), o",
            (
                np.array([1, 0, 4]),
                h,
                c,
                _decoder_params(12, 5, 5, 4, lstm="zero", gate_bias=[2.0, -1.0, 0.5, -3.0]),
            ),
            hint="split z = x·kernel + h·recurrent_kernel + bias into 4 equal blocks along "
            "the last axis in the "
            "order input, forget, candidate, output (Keras's layout, as in lstm_cell_step)",
        ),
        Case(
            "the embedding: x = embedding[token_ids]",
            (
                np.array([4, 1, 1, 3]),
                np.zeros((4, 3), np.float32),
                np.zeros((4, 3), np.float32),
                _decoder_params(13, 5, 5, 3),
            ),
            hint="the LSTM's input is the embedding row of each token, x = "
            "embedding[token_ids] (b, e), not the "
            "raw id and not a one-hot vector: the kernel multiplies embeddings",
        ),
        Case(
            "random weights and state, batch 4, V = 5, e = 5, u = 3",
            (np.array([0, 2, 4, 1]), h4, c4, _decoder_params(14, 5, 5, 3)),
            hint="z = x·kernel + h·recurrent_kernel + bias with the previous h; "
            "shapes: logits (b, V), h', c' (b, u)",
        ),
    ]

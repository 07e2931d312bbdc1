"""Chapter 1 solutions: equal to Keras/TensorFlow, clear errors on bad input, small trainings
work."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from solutions import ch01
from tinyllm import bigram, logistic_regression, tokenizers


def test_sigmoid_equals_keras_and_is_finite():
    z = np.linspace(-30, 30, 121).astype(np.float32)
    np.testing.assert_allclose(
        ch01.sigmoid(z), keras.ops.convert_to_numpy(keras.ops.sigmoid(z)), atol=1e-6
    )
    extreme = ch01.sigmoid(np.array([-1e4, 1e4], np.float32))
    assert np.all(np.isfinite(extreme)) and extreme[0] == 0 and extreme[1] == 1


def test_relu_equals_keras():
    x = np.linspace(-3, 3, 13).astype(np.float32)
    np.testing.assert_array_equal(
        ch01.relu(x), keras.ops.convert_to_numpy(keras.activations.relu(x))
    )


@pytest.mark.parametrize("from_logits", [False, True])
def test_bce_equals_keras(from_logits):
    rng = np.random.default_rng(0)
    y = (rng.random((6, 5)) > 0.5).astype(np.float32)
    pred = (
        rng.normal(0, 3, (6, 5)).astype(np.float32)
        if from_logits
        else rng.uniform(0.01, 0.99, (6, 5)).astype(np.float32)
    )
    expected = float(keras.losses.BinaryCrossentropy(from_logits=from_logits)(y, pred))
    assert ch01.binary_cross_entropy(y, pred, from_logits) == pytest.approx(expected, rel=1e-5)


def test_gradients_equal_gradient_tape():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y = (rng.random(20) > 0.5).astype(np.float32)
    w, b = tf.Variable(rng.normal(size=4).astype(np.float32)), tf.Variable(0.3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=tf.linalg.matvec(x, w) + b)
        )
    dw_tape, db_tape = tape.gradient(loss, [w, b])
    dw, db = ch01.logistic_regression_gradients(w.numpy(), float(b.numpy()), x, y)
    np.testing.assert_allclose(dw, dw_tape.numpy(), atol=1e-6)
    assert db == pytest.approx(float(db_tape), abs=1e-6)


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda: ch01.sigmoid("abc"), TypeError, "z must be numeric"),
        (lambda: ch01.relu([[1, 2], [3]]), TypeError, "x must be array-like"),
        (lambda: ch01.binary_cross_entropy([1, 0], [0.5, 0.5, 0.5]), ValueError, "same shape"),
        (lambda: ch01.binary_cross_entropy([1, 0], [2.0, -1.0]), ValueError, "from_logits=True"),
        (lambda: ch01.binary_cross_entropy([2, 0], [0.5, 0.5]), ValueError, "y_true must lie in"),
        (
            lambda: ch01.logistic_regression_gradients(
                np.zeros(3), 0.0, np.ones((4, 2)), np.zeros(4)
            ),
            ValueError,
            "w must have shape (2,)",
        ),
        (
            lambda: ch01.logistic_regression_gradients(
                np.zeros(2), 0.0, np.ones((4, 2)), np.zeros(3)
            ),
            ValueError,
            "y must have shape (4,)",
        ),
        (
            lambda: ch01.logistic_regression_gradients(np.zeros(2), 0.0, np.ones(4), np.zeros(4)),
            ValueError,
            "x must have 2 dimension",
        ),
        (
            lambda: tokenizers.CharTokenizer("abc").encode("abz"),
            ValueError,
            "not in the vocabulary: 'z'",
        ),
        (
            lambda: tokenizers.CharTokenizer("abc").decode([0, 5]),
            ValueError,
            "ids must lie in [0, 2]",
        ),
        (lambda: tokenizers.CharTokenizer(""), ValueError, "non-empty"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_scratch_loop_and_keras_dense_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.float32)
    w, b, losses = logistic_regression.train_logistic_regression(x, y, steps=50, learning_rate=0.5)
    assert losses[-1] < losses[0] * 0.5
    model = logistic_regression.keras_logistic_regression(3, learning_rate=0.5)
    logistic_regression.fit_full_batch(model, x, y, steps=50)
    np.testing.assert_allclose(model.get_layer("logit").get_weights()[0][:, 0], w, atol=1e-4)


def test_char_tokenizer_round_trip_including_chinese():
    text = "one day 小猫 went home.\n"
    tokenizer = tokenizers.CharTokenizer(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.vocabulary == sorted(set(text))


def test_bigram_counts_beat_unigram_on_structured_text():
    ids = np.array([0, 1, 2] * 200, np.int64)
    assert (
        bigram.bigram_counts_cross_entropy(ids, ids, 3)
        < 0.05
        < bigram.unigram_cross_entropy(ids, ids, 3)
    )


def test_naive_bayes_equals_scikit_learn_and_its_linear_logit():
    from sklearn.naive_bayes import GaussianNB

    from tinyllm.naive_bayes import GaussianNaiveBayes

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    x = rng.normal(size=(60, 4)) * (1 + y[:, None]) + y[:, None]
    ours = GaussianNaiveBayes(shared_variance=False).fit(x, y)
    np.testing.assert_allclose(
        ours.predict_proba(x), GaussianNB().fit(x, y).predict_proba(x), atol=1e-10
    )
    binary = y < 2
    shared = GaussianNaiveBayes(shared_variance=True).fit(x[binary], y[binary])
    w, b = shared.as_logistic_regression()
    np.testing.assert_allclose(
        shared.predict_proba(x)[:, 1], 1 / (1 + np.exp(-(x @ w + b))), atol=1e-12
    )
    assert np.allclose(shared.variances[0], shared.variances[1])


def test_redundant_features_dataset():
    from course.data import make_redundant_features_dataset

    x, y = make_redundant_features_dataset(5000, seed=3)
    assert (
        x.shape == (5000, 23)
        and y.shape == (5000,)
        and x.dtype == np.float32
        and y.dtype == np.float32
    )
    assert set(np.unique(y)) == {0.0, 1.0} and abs(y.mean() - 0.5) < 0.03  # a fair coin
    again_x, again_y = make_redundant_features_dataset(5000, seed=3)
    np.testing.assert_array_equal(x, again_x)
    np.testing.assert_array_equal(y, again_y)
    assert not np.array_equal(
        make_redundant_features_dataset(50, seed=4)[0],
        make_redundant_features_dataset(50, seed=5)[0],
    )
    sign = 2 * y - 1
    # class shifts
    assert np.allclose((x * sign[:, None]).mean(axis=0), [0.3] * 20 + [0.4] * 3, atol=0.05)
    within = x[y == 1] - x[y == 1].mean(axis=0)
    correlation = np.corrcoef(within.T)
    assert np.all(correlation[20:, 20:][~np.eye(3, dtype=bool)] > 0.88)  # copies: 1 / 1.09 = 0.92
    # the rest independent
    assert np.abs(correlation[:20, :20][~np.eye(20, dtype=bool)]).max() < 0.1


@pytest.mark.parametrize("n", [0, -3, 2.5, "10", True])
def test_redundant_features_dataset_bad_n(n):
    from course.data import make_redundant_features_dataset

    with pytest.raises(ValueError, match="n must be a positive integer"):
        make_redundant_features_dataset(n)


def test_batched_logistic_regressions_equal_one_at_a_time():
    from tinyllm.naive_bayes import train_logistic_regressions

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=40) > 0).astype(np.float32)
    mask = np.zeros((2, 40), np.float32)
    mask[0, :15], mask[1] = 1, 1
    w, b = train_logistic_regressions(np.stack([x, x]), np.stack([y, y]), mask, steps=50)
    for row, rows in enumerate([slice(0, 15), slice(None)]):
        w_one, b_one, _ = logistic_regression.train_logistic_regression(x[rows], y[rows], steps=50)
        np.testing.assert_allclose(w[row], w_one, atol=1e-5)
        assert b[row] == pytest.approx(b_one, abs=1e-5)


def test_learning_curves_shape_and_a_separable_case():
    from tinyllm.naive_bayes import learning_curves

    rng = np.random.default_rng(2)
    y = np.tile([0, 1], 60)
    x = (rng.normal(size=(120, 2)) + 6 * y[:, None]).astype(np.float32)  # Bayes error 1e-5
    curves = learning_curves(x[:80], y[:80], x[80:], y[80:], sizes=[6, 80], repeats=3, seed=0)
    assert set(curves) == {"naive Bayes", "logistic regression"}
    for errors in curves.values():
        assert errors.shape == (2, 3) and errors[1].max() <= 0.05  # well-separated blobs


@pytest.mark.parametrize(
    "call,words",
    [
        (lambda nb: nb.fit(np.ones((4, 2)), [0, 0, 2, 2]), "every class"),
        (lambda nb: nb.fit(np.ones((4, 2)), [0, 1, 1]), "same number of rows"),
        (lambda nb: nb.fit(np.ones((4, 2)), [0, 1, -1, 1]), "non-negative"),
        (lambda nb: nb.fit(np.ones((4, 2)), [0, 1, 0, 1]).log_joint(np.ones((2, 3))), "2 features"),
        (
            lambda nb: nb.fit(np.ones((6, 2)), [0, 1, 2, 0, 1, 2]).as_logistic_regression(),
            "two-class",
        ),
    ],
)
def test_naive_bayes_bad_input(call, words):
    from tinyllm.naive_bayes import GaussianNaiveBayes

    with pytest.raises(ValueError) as info:
        call(GaussianNaiveBayes())
    assert words in str(info.value)


def test_learning_curves_bad_sizes():
    from tinyllm.naive_bayes import learning_curves, train_logistic_regressions

    x, y = np.ones((10, 2), np.float32), np.tile([0, 1], 5)
    with pytest.raises(ValueError, match=r"sizes must lie in \[4, 10\]"):
        learning_curves(x, y, x, y, sizes=[2, 10])
    with pytest.raises(ValueError, match="every mask row"):
        train_logistic_regressions(x[None], y[None], np.zeros((1, 10)))

"""Chapter 3 solutions: the exercise answers equal Keras's losses up to the factor D, bad input
stops with a clear error, and the teaching code (data, models, corruption) does what it says."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import PCA

from course.data import load_digits_split
from solutions.ch03 import (
    autoencoder_forward,
    bce_reconstruction_loss,
    mse_reconstruction_loss,
    pca_reconstruction,
)
from tinyllm import autoencoders


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def _images(seed=0, n=16, d=64):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(np.float32), rng.uniform(0.01, 0.99, (n, d)).astype(np.float32)


# --------------------------------------------------------------------------- data


def test_digits_split(digits):
    assert digits.x_train.shape == (1347, 64) and digits.x_test.shape == (450, 64)
    assert digits.x_train.dtype == np.float32
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    # pixel values 0..16, divided by 16
    assert set(np.unique(digits.x_train * 16)) <= set(range(17))
    assert np.all(np.bincount(digits.y_test, minlength=10) >= 43)  # stratified: 43–46 of each digit
    again = load_digits_split()
    np.testing.assert_array_equal(again.x_test, digits.x_test)


def test_digits_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(test_fraction=1.5)


# --------------------------------------------------------------------------- exercises vs Keras


def test_mse_is_keras_mse_times_features():
    x, x_hat = _images()
    keras_mean = float(keras.losses.MeanSquaredError()(x, x_hat))  # mean over features and samples
    assert mse_reconstruction_loss(x, x_hat) == pytest.approx(64 * keras_mean, rel=1e-5)
    assert mse_reconstruction_loss(x, x_hat) == pytest.approx(
        autoencoders.reconstruction_error(x, x_hat), rel=1e-5
    )


def test_mse_sums_every_non_batch_axis():
    x, x_hat = _images()
    assert mse_reconstruction_loss(x.reshape(16, 8, 8), x_hat.reshape(16, 8, 8)) == pytest.approx(
        mse_reconstruction_loss(x, x_hat), rel=1e-6
    )


def test_bce_is_keras_bce_times_features():
    x, x_hat = _images(1)
    keras_mean = float(keras.losses.BinaryCrossentropy()(x, x_hat))
    assert bce_reconstruction_loss(x, x_hat) == pytest.approx(64 * keras_mean, rel=1e-5)
    assert bce_reconstruction_loss(x, x_hat) == pytest.approx(
        autoencoders.reconstruction_error(x, x_hat, "bce"), rel=1e-5
    )


def test_bce_from_sigmoid_equals_keras_from_logits():
    rng = np.random.default_rng(2)
    x = rng.random((8, 64)).astype(np.float32)
    logits = rng.normal(0, 3, (8, 64)).astype(np.float32)
    from_logits = float(keras.losses.BinaryCrossentropy(from_logits=True)(x, logits)) * 64
    assert bce_reconstruction_loss(
        x, 1 / (1 + np.exp(-logits.astype(np.float64)))
    ) == pytest.approx(from_logits, rel=1e-4)


def test_bce_clips_exact_zeros_and_ones():
    x = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    x_hat = np.array([[0.0, 1.0, 1.0, 0.0]], np.float32)
    assert bce_reconstruction_loss(x, x_hat) == pytest.approx(-2 * np.log(1e-7), rel=1e-4)


@pytest.mark.parametrize("kind", ["mse", "bce"])
def test_compiled_model_reports_the_chapter_loss(digits, kind):
    """`loss_weights=D` turns Keras's mean-over-features loss into the summed one of the
    exercises."""
    model = autoencoders.make_autoencoder(4, hidden_units=(16,), loss=kind, seed=1)
    x = digits.x_test[:100]
    x_hat = autoencoders.reconstruct(model, x)
    reference = (
        mse_reconstruction_loss(x, x_hat) if kind == "mse" else bce_reconstruction_loss(x, x_hat)
    )
    assert model.evaluate(x, x, verbose=0, batch_size=100) == pytest.approx(
        float(reference), rel=1e-4
    )


def test_compiled_bce_uses_the_logits_behind_the_sigmoid():
    """Notebook §5's claim: in a compiled step Keras computes BCE on a sigmoid output from its
    logits."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                1, activation="sigmoid", bias_initializer=keras.initializers.Constant(-30.0)
            ),
        ]
    )
    model.compile(loss=keras.losses.BinaryCrossentropy())
    loss = model.evaluate(np.zeros((4, 1), np.float32), np.ones((4, 1), np.float32), verbose=0)
    # −log σ(−30) ≈ 30, not the clipped −log(1e−7) ≈ 16.1
    assert loss == pytest.approx(30.0, rel=1e-3)


def test_pca_reconstruction_equals_sklearn(digits):
    for k in (2, 8):
        pca = PCA(n_components=k, svd_solver="full").fit(digits.x_train)
        expected = pca.inverse_transform(pca.transform(digits.x_test))
        np.testing.assert_allclose(
            pca_reconstruction(digits.x_train, digits.x_test, k), expected, atol=1e-4
        )
    np.testing.assert_allclose(
        pca_reconstruction(digits.x_train, digits.x_test, 64), digits.x_test, atol=1e-4
    )


def test_pca_errors_match_the_exercise(digits):
    errors = autoencoders.pca_errors(digits.x_train, digits.x_test, [2])
    x_hat = pca_reconstruction(digits.x_train, digits.x_test, 2)
    assert errors[2] == pytest.approx(
        float(mse_reconstruction_loss(digits.x_test, x_hat)), rel=1e-4
    )


# Every weight of the model perturbed by N(0, 0.3²) (biases then far from their zero start), on the
# test digits: measured max |Δ| 4.8e-6 on codes up to 12.6 and 1.7e-6 on sigmoid outputs (128 hidden
# units);
# 9.5e-7 on codes up to 5.2 and outputs up to 6.2 (linear). Band 5e-5, ten times the largest.
@pytest.mark.parametrize(
    "settings",
    [{"hidden_units": (128,)}, {"hidden_units": (), "output_activation": None}],
    ids=["relu-sigmoid", "linear"],
)
def test_autoencoder_forward_on_autoencoder_layers_equals_keras(digits, settings):
    model = autoencoders.make_autoencoder(8, **settings)
    rng = np.random.default_rng(0)
    model.set_weights(
        [w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()]
    )
    encoder_layers, decoder_layers = autoencoders.autoencoder_layers(model)
    assert [layer["activation"] for layer in encoder_layers + decoder_layers] == (
        ["relu", "linear", "relu", "sigmoid"] if settings["hidden_units"] else ["linear", "linear"]
    )
    z, x_hat = autoencoder_forward(digits.x_test, encoder_layers, decoder_layers)
    assert z.dtype == x_hat.dtype == np.float32 and z.shape == (450, 8) and x_hat.shape == (450, 64)
    np.testing.assert_allclose(z, autoencoders.encode(model, digits.x_test), rtol=0, atol=5e-5)
    np.testing.assert_allclose(
        x_hat, autoencoders.reconstruct(model, digits.x_test), rtol=0, atol=5e-5
    )


def test_autoencoder_forward_sigmoid_is_stable_and_float64_is_kept():
    layers = [{"kernel": np.array([[1e4, -1e4]]), "bias": np.zeros(2), "activation": "sigmoid"}]
    # e^(−1e4) underflowing to 0 is fine
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        z, x_hat = autoencoder_forward(
            np.array([[1.0], [-1.0]]), layers, [{**layers[0], "kernel": np.eye(2)}]
        )
    np.testing.assert_array_equal(z, [[1.0, 0.0], [0.0, 1.0]])
    assert z.dtype == x_hat.dtype == np.float64 and np.all(np.isfinite(x_hat))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("loss", [mse_reconstruction_loss, bce_reconstruction_loss])
def test_mismatched_shapes_are_a_clear_error(loss):
    with pytest.raises(
        ValueError, match=r"x and x_hat must have the same shape, got \(4, 64\) and \(4, 63\)"
    ):
        loss(np.zeros((4, 64)), np.zeros((4, 63)))


@pytest.mark.parametrize("loss", [mse_reconstruction_loss, bce_reconstruction_loss])
def test_scalars_empty_batches_and_text_are_clear_errors(loss):
    with pytest.raises(ValueError, match="x must have at least 1 dimension"):
        loss(0.5, 0.5)
    with pytest.raises(ValueError, match="at least one sample"):
        loss(np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(TypeError, match="x_hat must be numeric"):
        loss(np.zeros((2, 2)), [["a", "b"], ["c", "d"]])


def test_bce_rejects_values_outside_unit_interval():
    x, x_hat = _images()
    with pytest.raises(ValueError, match=r"x must lie in \[0.0, 1.0\], got values in \[-0.4"):
        bce_reconstruction_loss(x - 0.5, x_hat)
    with pytest.raises(
        ValueError, match=r"x_hat \(probabilities, e.g. a sigmoid output\) must lie in \[0.0, 1.0\]"
    ):
        bce_reconstruction_loss(x, x_hat * 3)
    with pytest.raises(ValueError, match="x_hat"):
        bce_reconstruction_loss(x, np.full_like(x_hat, np.nan))
    with pytest.raises(ValueError, match="x_hat must lie in"):
        autoencoders.reconstruction_error(x, x_hat + 1, "bce")


def test_mse_accepts_any_real_values():
    assert mse_reconstruction_loss([[-2.0, 3.0]], [[0.0, 0.0]]) == pytest.approx(13.0)


def test_pca_rejects_bad_input():
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        pca_reconstruction(x, x, 0)
    with pytest.raises(ValueError, match="k must be at most min"):
        pca_reconstruction(x, x, 5)
    with pytest.raises(ValueError, match="x has 3 features but x_train has 4"):
        pca_reconstruction(x, x[:, :3], 2)
    with pytest.raises(ValueError, match="x_train must have 2 dimension"):
        pca_reconstruction(x[0], x, 1)


def test_reconstruction_error_rejects_unknown_kind():
    x, x_hat = _images()
    with pytest.raises(ValueError, match="kind must be 'mse' or 'bce'"):
        autoencoders.reconstruction_error(x, x_hat, "mae")


def test_autoencoder_forward_rejects_bad_layers():
    x = np.ones((2, 3), np.float32)
    layer = {
        "kernel": np.ones((3, 2), np.float32),
        "bias": np.zeros(2, np.float32),
        "activation": "relu",
    }
    back = {**layer, "kernel": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match=r"encoder_layers\[0\] is missing bias"):
        autoencoder_forward(x, [{"kernel": layer["kernel"], "activation": "relu"}], [back])
    with pytest.raises(
        ValueError, match=r"decoder_layers\[0\]\['kernel'\] has shape \(3, 2\) but its input has 2"
    ):
        autoencoder_forward(x, [layer], [layer])
    with pytest.raises(ValueError, match=r"\['bias'\] must have shape \(2,\)"):
        autoencoder_forward(x, [{**layer, "bias": np.zeros(3)}], [back])
    with pytest.raises(ValueError, match="must be one of relu, sigmoid, linear, got 'tanh'"):
        autoencoder_forward(x, [layer], [{**back, "activation": "tanh"}])
    with pytest.raises(ValueError, match="non-empty list"):
        autoencoder_forward(x, [], [back])
    with pytest.raises(ValueError, match="x must have 2 dimension"):
        autoencoder_forward(x[0], [layer], [back])


# -------------------------------------------------------------------------- models and corruption


def test_autoencoder_shapes_and_parts():
    model = autoencoders.make_autoencoder(8)
    x = np.zeros((5, 64), np.float32)
    assert autoencoders.encode(model, x).shape == (5, 8)
    x_hat = autoencoders.reconstruct(model, x)
    assert x_hat.shape == (5, 64) and np.all((x_hat > 0) & (x_hat < 1))  # sigmoid output
    linear = autoencoders.make_autoencoder(3, hidden_units=(), output_activation=None)
    assert [type(layer).__name__ for layer in linear.encoder.layers + linear.decoder.layers] == [
        "Dense",
        "Dense",
    ]
    assert all(
        layer.activation.__name__ == "linear"
        for layer in linear.encoder.layers + linear.decoder.layers
    )


def test_autoencoder_rejects_bad_settings():
    with pytest.raises(ValueError, match="loss='bce' needs output_activation='sigmoid'"):
        autoencoders.make_autoencoder(4, output_activation=None, loss="bce")
    with pytest.raises(ValueError, match="loss must be 'mse' or 'bce'"):
        autoencoders.make_autoencoder(4, loss="mae")
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        autoencoders.make_autoencoder(0)


def test_masking_noise_layer():
    layer = autoencoders.MaskingNoise(0.5, seed=3)
    x = np.full((200, 64), 0.7, np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    # erased or unchanged: no 1/(1 − rate) rescaling
    assert set(np.unique(first)) == {
        0.0,
        np.float32(0.7),
    }
    assert 0.47 < np.mean(first == 0) < 0.53
    assert not np.array_equal(first, second)  # a fresh mask every step
    with pytest.raises(ValueError, match="rate must be in"):
        autoencoders.MaskingNoise(1.0)
    restored = autoencoders.MaskingNoise.from_config(layer.get_config())
    assert (restored.rate, restored.seed) == (0.5, 3)


def test_mask_pixels_is_reproducible_and_only_erases():
    x, _ = _images(n=100)
    a, b = autoencoders.mask_pixels(x, 0.3, seed=7), autoencoders.mask_pixels(x, 0.3, seed=7)
    np.testing.assert_array_equal(a, b)
    assert 0.27 < np.mean(a == 0) < 0.33
    np.testing.assert_array_equal(a[a != 0], x[a != 0])
    np.testing.assert_array_equal(autoencoders.mask_pixels(x, 0.0), x)
    with pytest.raises(ValueError, match="rate must be in"):
        autoencoders.mask_pixels(x, -0.1)


def test_quantize():
    codes = np.linspace(-1, 1, 50, dtype=np.float32)[:, None]
    q = autoencoders.quantize(codes, 2, low=-1.0, high=1.0)
    assert len(np.unique(q)) == 4 and q.min() == -1 and q.max() == 1
    assert np.max(np.abs(autoencoders.quantize(codes, 8, -1.0, 1.0) - codes)) <= 1 / 255 + 1e-6


def test_logit_gradients_match_the_closed_forms():
    z = np.linspace(-10, 10, 41).astype(np.float32)
    grads = autoencoders.logit_gradients(z, target=1.0)
    s = 1 / (1 + np.exp(-z.astype(np.float64)))
    np.testing.assert_allclose(grads["bce"], s - 1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads["mse"], 2 * (s - 1) * s * (1 - s), rtol=1e-3, atol=1e-9)
    # confidently wrong: only BCE pushes
    assert abs(grads["bce"][0]) > 0.99 and abs(grads["mse"][0]) < 1e-3


def test_feature_factor_is_a_learning_rate_for_sgd_but_not_for_adam(digits):
    x = digits.x_train[:64]
    sgd = autoencoders.first_step_size("sgd", 64.0, x) / autoencoders.first_step_size("sgd", 1.0, x)
    adam = autoencoders.first_step_size("adam", 64.0, x) / autoencoders.first_step_size(
        "adam", 1.0, x
    )
    assert sgd == pytest.approx(64.0, rel=1e-3)
    assert 0.8 < adam < 1.25  # Adam's first step is lr·g/(|g| + ε): only ε sees the scale


@pytest.mark.slow
def test_tiny_training_run_learns(digits):
    """A smoke run (not the notebook's training): 40 epochs on 512 images lowers the loss a lot."""
    x = digits.x_train[:512]
    model = autoencoders.make_autoencoder(8, hidden_units=(32,), seed=0)
    before = autoencoders.reconstruction_error(x, autoencoders.reconstruct(model, x))
    losses = autoencoders.train_autoencoder(model, x, epochs=40, batch_size=128)
    after = autoencoders.reconstruction_error(x, autoencoders.reconstruct(model, x))
    assert len(losses) == 40 and losses[-1] < losses[0]
    assert int(model.optimizer.iterations) == 40 * 4  # 512 / 128 steps per epoch
    assert after < 0.5 * before


@pytest.mark.slow
def test_denoiser_trains_on_corrupted_inputs_against_clean_targets(digits):
    x = digits.x_train[:256]
    model = autoencoders.make_autoencoder(4, hidden_units=(16,), noise_rate=0.5, seed=0)
    losses = autoencoders.train_autoencoder(model, x, epochs=5, batch_size=256)
    # The training loss is measured on corrupted inputs, so it exceeds the clean-input loss of the
    # same weights.
    assert losses[-1] > model.evaluate(x, x, verbose=0)
    assert isinstance(model.layers[1], autoencoders.MaskingNoise)
    tf.debugging.assert_all_finite(tf.constant(losses), "losses")


def test_training_progress_is_one_line_every_n_epochs(digits, capsys):
    model = autoencoders.make_autoencoder(2, hidden_units=(8,), seed=0)
    losses = autoencoders.train_autoencoder(
        model, digits.x_train[:64], epochs=5, batch_size=64, log_every=2
    )
    lines = capsys.readouterr().out.splitlines()
    # every 2 epochs, and after the last one; each line names the model and shows that epoch's loss
    assert [line.split(",")[0] for line in lines] == [
        f"{model.name}: epoch {n}/5" for n in (2, 4, 5)
    ]
    assert lines[-1].endswith(f"loss {losses[-1]:.3f}")
    autoencoders.train_autoencoder(model, digits.x_train[:64], epochs=1, batch_size=64)
    assert capsys.readouterr().out == ""  # log_every=0 (the default): silent
    for bad in (-1, 1.5, "10"):
        with pytest.raises(ValueError, match="log_every must be a positive integer"):
            autoencoders.train_autoencoder(model, digits.x_train[:64], epochs=1, log_every=bad)

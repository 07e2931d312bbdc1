"""Chapter 3 — autoencoders on 8×8 digits: dense and denoising, MSE vs cross-entropy reconstruction.

z = f(x) (b, k),   x̂ = g(z) (b, 64),   L_MSE = mean_i ‖x_i − x̂_i‖²,
L_BCE = −mean_i Σ_j [x_ij log x̂_ij + (1 − x_ij) log(1 − x̂_ij)]
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tinyllm.validation import (
    as_array,
    require_positive_int,
    require_range,
    require_same_shape,
)

IMAGE_SHAPE = (8, 8)


def mask_pixels(x, rate: float, seed: int = 0):
    """Masking noise for evaluation: a copy of ``x`` with each pixel set to 0 with probability
    ``rate``.

    The same ``seed`` always masks the same pixels, so every model is judged on
    the same corrupted test images. (During training :class:`MaskingNoise` draws a fresh mask every
    step.)
    """
    x = as_array(x, "x", dtype="float")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate}")
    keep = np.random.default_rng(seed).random(x.shape) >= rate
    return np.where(keep, x, 0.0).astype(x.dtype)


@keras.saving.register_keras_serializable(package="tinyllm")
class MaskingNoise(keras.layers.Layer):
    """Training-time corruption: each input value is set to 0 with probability ``rate``.

    Like ``keras.layers.Dropout`` it draws a fresh mask every step and is the
    identity at inference, but it does not rescale the kept values by
    1/(1 − rate): the input should look like a digit with missing ink, not a
    brighter one.
    """

    def __init__(self, rate, seed=0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        u = keras.random.uniform(keras.ops.shape(inputs), seed=self.seed_generator)
        return keras.ops.where(u >= self.rate, inputs, keras.ops.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def make_autoencoder(
    latent_dim: int,
    input_dim: int = 64,
    hidden_units=(128,),
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    loss: str = "mse",
    learning_rate: float = 3e-3,
    noise_rate: float = 0.0,
    seed: int = 0,
):
    """encoder → bottleneck (``latent_dim`` numbers, linear) → decoder, compiled with a Keras loss.

    Encoder: Dense(h, activation) for h in ``hidden_units``, then Dense(latent_dim).
    Decoder: the mirror image, ending in Dense(input_dim, output_activation).
    ``hidden_units=()`` with ``output_activation=None`` is a *linear* autoencoder.
    ``noise_rate > 0`` puts :class:`MaskingNoise` in front of the encoder (a denoising
    autoencoder: corrupted input, clean target).

    ``loss`` is "mse" or "bce": Keras's ``MeanSquaredError`` / ``BinaryCrossentropy``,
    which average over the D = ``input_dim`` features, compiled with
    ``loss_weights=D`` so the reported loss is summed over features and averaged
    over samples — the chapter's L. (With Adam this factor hardly changes training.)
    In Keras's compiled step, BCE on a sigmoid output is computed from the logits
    underneath, so it stays exact and does not saturate.

    The model has ``.encoder`` and ``.decoder`` sub-models for encoding and generating.
    """
    latent_dim = require_positive_int(latent_dim, "latent_dim")
    input_dim = require_positive_int(input_dim, "input_dim")
    if loss not in ("mse", "bce"):
        raise ValueError(f"loss must be 'mse' or 'bce', got {loss!r}")
    if loss == "bce" and output_activation != "sigmoid":
        raise ValueError(
            "loss='bce' needs output_activation='sigmoid': BCE compares probabilities in [0, 1]"
        )

    keras.utils.set_random_seed(seed)
    dense = keras.layers.Dense
    encoder = keras.Sequential(
        [keras.Input((input_dim,))]
        + [dense(h, activation=activation) for h in hidden_units]
        + [dense(latent_dim, name="code")],
        name="encoder",
    )
    decoder = keras.Sequential(
        [keras.Input((latent_dim,))]
        + [dense(h, activation=activation) for h in reversed(tuple(hidden_units))]
        + [dense(input_dim, activation=output_activation, name="reconstruction")],
        name="decoder",
    )
    inputs = keras.Input((input_dim,), name="image")
    corrupted = MaskingNoise(noise_rate, seed=seed)(inputs) if noise_rate else inputs
    model = keras.Model(inputs, decoder(encoder(corrupted)), name=f"autoencoder_{latent_dim}")
    model.encoder, model.decoder = encoder, decoder
    keras_loss = (
        keras.losses.MeanSquaredError() if loss == "mse" else keras.losses.BinaryCrossentropy()
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras_loss,
        loss_weights=float(input_dim),
    )
    return model


def autoencoder_layers(model) -> tuple:
    """A :func:`make_autoencoder` model's Dense layers as ``(encoder_layers, decoder_layers)`` for
    NumPy.

    Each layer becomes {"kernel": (in, out), "bias": (out,), "activation": name}, float32 arrays,
    with the activation's name ("relu", "sigmoid", or "linear" where the layer has none);
    applied in order, y = activation(h·kernel + bias), they give z = encoder(x) and x̂ = decoder(z).
    """

    def layers(stack):
        return [
            {
                "kernel": keras.ops.convert_to_numpy(layer.kernel).astype(np.float32),
                "bias": keras.ops.convert_to_numpy(layer.bias).astype(np.float32),
                "activation": layer.activation.__name__,
            }
            for layer in stack.layers
            if isinstance(layer, keras.layers.Dense)
        ]

    return layers(model.encoder), layers(model.decoder)


def train_autoencoder(
    model, x_train, epochs: int = 300, batch_size: int = 256, seed: int = 0, log_every: int = 0
) -> list:
    """Fit ``model`` to reproduce ``x_train`` (input = target = the clean images); returns the loss
    per epoch.

    Self-supervised: the target is the input itself, no label is needed. ``log_every = n > 0``
    prints one line every n epochs (and after the last) with the training loss.
    The images go in as a ``tf.data`` pipeline (reshuffled every epoch, then
    batched), so batches are cut by tf.data rather than by ``fit``'s slicing of
    NumPy arrays in Python.
    """
    x_train = as_array(x_train, "x_train", ndim=2, dtype="float")
    epochs = require_positive_int(epochs, "epochs")
    batch_size = require_positive_int(batch_size, "batch_size")
    callbacks = []
    if log_every:
        log_every = require_positive_int(log_every, "log_every")

        def report(epoch, logs):
            if (epoch + 1) % log_every == 0 or epoch + 1 == epochs:
                print(f"{model.name}: epoch {epoch + 1}/{epochs}, loss {logs['loss']:.3f}")

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report))
    keras.utils.set_random_seed(seed)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x_train, x_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    # shuffle=False: the pipeline shuffles
    history = model.fit(dataset, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)
    return history.history["loss"]


def reconstruct(model, x):
    """x̂ = decoder(encoder(x)) at inference (no corruption layer active), float32 (n, D).

    A direct call rather than ``model.predict``, which would build a batched dataset and a
    prediction function for a few hundred small images.
    """
    return keras.ops.convert_to_numpy(
        model(as_array(x, "x", ndim=2, dtype="float"), training=False)
    )


def encode(model, x):
    """The codes z = encoder(x), float32 (n, latent_dim)."""
    return keras.ops.convert_to_numpy(
        model.encoder(as_array(x, "x", ndim=2, dtype="float"), training=False)
    )


def reconstruction_error(x, x_hat, kind: str = "mse") -> float:
    """The chapter's test metric through Keras: D × Keras's per-sample loss (a mean over the D
    features), averaged over samples — i.e. summed over features, averaged over samples.

    ``kind`` "mse" uses ``keras.losses.mean_squared_error``; "bce" uses
    ``keras.losses.binary_crossentropy`` (which clips probabilities to [1e-7, 1 − 1e-7]).
    """
    x = as_array(x, "x", ndim=2, dtype="float")
    x_hat = as_array(x_hat, "x_hat", ndim=2, dtype="float")
    require_same_shape(x, x_hat, "x", "x_hat")
    if kind == "mse":
        per_sample = keras.losses.mean_squared_error(x, x_hat)
    elif kind == "bce":
        require_range(x_hat, "x_hat", 0.0, 1.0)
        per_sample = keras.losses.binary_crossentropy(x, x_hat)
    else:
        raise ValueError(f"kind must be 'mse' or 'bce', got {kind!r}")
    return float(np.mean(keras.ops.convert_to_numpy(per_sample), dtype=np.float64) * x.shape[1])


def pca_errors(x_train, x_test, latent_dims) -> dict:
    """Test reconstruction error (sum over pixels, mean over images) of PCA with k components, for
    each k."""
    from sklearn.decomposition import PCA

    errors = {}
    for k in latent_dims:
        pca = PCA(n_components=k, svd_solver="full").fit(x_train)
        errors[k] = reconstruction_error(
            x_test, pca.inverse_transform(pca.transform(x_test)).astype(np.float32)
        )
    return errors


def quantize(codes, bits: int, low, high):
    """Round each code value to one of 2^bits evenly spaced levels in [low, high] (per column), and
    back.

    What a real compressor would have to do with an autoencoder's float codes:
    k float32 numbers are 32·k bits, no smaller than the image they encode.
    """
    codes = as_array(codes, "codes", ndim=2, dtype="float")
    bits = require_positive_int(bits, "bits")
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    levels = 2**bits - 1
    step = np.where(high > low, (high - low) / levels, 1.0)
    index = np.clip(np.round((codes - low) / step), 0, levels)
    return (low + index * step).astype(np.float32)


def logit_gradients(z, target: float = 1.0) -> dict:
    """∂loss/∂a of one sigmoid output x̂ = σ(a) against ``target``, for each logit a in ``z``.

    Returns {"mse": 2(σ(a) − x)σ'(a), "bce": σ(a) − x}, both computed by
    ``tf.GradientTape`` through Keras's losses (BCE from the logits, as Keras
    does in training). MSE's gradient dies where σ saturates; BCE's does not.
    """
    a = tf.Variable(as_array(z, "z", ndim=1, dtype="float").astype(np.float32)[:, None])
    x = tf.fill(tf.shape(a), float(target))
    with tf.GradientTape(persistent=True) as tape:
        mse = tf.reduce_sum(keras.losses.mean_squared_error(x, tf.sigmoid(a)))
        bce = tf.reduce_sum(keras.losses.binary_crossentropy(x, a, from_logits=True))
    grads = {"mse": tape.gradient(mse, a)[:, 0].numpy(), "bce": tape.gradient(bce, a)[:, 0].numpy()}
    del tape
    return grads


def first_step_size(
    optimizer: str, loss_scale: float, x, learning_rate: float = 1e-3, seed: int = 0
) -> float:
    """‖Δθ‖ after one optimiser step on ``loss_scale`` × Keras's MSE (mean over features) for a
    fixed autoencoder.

    With "sgd" the step grows linearly with ``loss_scale`` (summing over D features
    instead of averaging is a D-times larger learning rate); with "adam" it
    does not change (Adam's first step is lr·sign(g), whatever the scale).
    """
    x = as_array(x, "x", ndim=2, dtype="float")
    model = make_autoencoder(4, input_dim=x.shape[1], hidden_units=(16,), seed=seed)
    opt = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[optimizer](learning_rate)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        loss = loss_scale * keras.losses.MeanSquaredError()(x, model(x))
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
    return float(
        np.sqrt(sum(np.sum((w.numpy() - b) ** 2) for w, b in zip(model.trainable_weights, before)))
    )

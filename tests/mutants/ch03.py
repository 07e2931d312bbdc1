"""Chapter 3: the classic mistakes, each of which the public cases must catch."""

import numpy as np
import tensorflow as tf


def _flat(x, x_hat):
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    return x.reshape(len(x), -1), x_hat.reshape(len(x_hat), -1)


def _clip(p):
    return np.clip(p, 1e-7, 1 - 1e-7)


# --- MSE reconstruction loss
def mse_mean_over_features(x, x_hat):  # Keras's mean_squared_error, averaged: D times too small
    x, x_hat = _flat(x, x_hat)
    return np.mean((x - x_hat) ** 2)


def mse_sum_over_everything(x, x_hat):  # forgot the 1/N
    x, x_hat = _flat(x, x_hat)
    return np.sum((x - x_hat) ** 2)


def mse_last_axis_only(x, x_hat):  # sums the last axis, averages the others
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    return np.mean(np.sum((x - x_hat) ** 2, axis=-1))


def mse_norm_not_squared(x, x_hat):  # ‖x − x̂‖ instead of ‖x − x̂‖²
    x, x_hat = _flat(x, x_hat)
    return np.mean(np.linalg.norm(x - x_hat, axis=1))


def mse_absolute_error(x, x_hat):
    x, x_hat = _flat(x, x_hat)
    return np.mean(np.sum(np.abs(x - x_hat), axis=1))


def mse_divided_by_features(x, x_hat):  # divides by D instead of N
    x, x_hat = _flat(x, x_hat)
    return np.sum((x - x_hat) ** 2) / x.shape[1]


def mse_per_sample(x, x_hat):  # forgot the mean over samples: returns (N,)
    x, x_hat = _flat(x, x_hat)
    return np.sum((x - x_hat) ** 2, axis=1)


# --- BCE reconstruction loss
def bce_mean_over_features(x, x_hat):  # Keras's binary_crossentropy, averaged: D times too small
    x, x_hat = _flat(x, x_hat)
    p = _clip(x_hat)
    return -np.mean(x * np.log(p) + (1 - x) * np.log(1 - p))


def bce_no_clip(x, x_hat):
    x, x_hat = _flat(x, x_hat)
    return -np.mean(np.sum(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat), axis=1))


def bce_log2(x, x_hat):
    x, x_hat = _flat(x, x_hat)
    p = _clip(x_hat)
    return -np.mean(np.sum(x * np.log2(p) + (1 - x) * np.log2(1 - p), axis=1))


def bce_missing_negative_term(x, x_hat):
    x, x_hat = _flat(x, x_hat)
    return -np.mean(np.sum(x * np.log(_clip(x_hat)), axis=1))


def bce_swapped_arguments(x, x_hat):  # x̂ log x: target and prediction swapped
    x, x_hat = _flat(x, x_hat)
    p = _clip(x)
    return -np.mean(np.sum(x_hat * np.log(p) + (1 - x_hat) * np.log(1 - p), axis=1))


def bce_sum_over_everything(x, x_hat):  # forgot the 1/N
    x, x_hat = _flat(x, x_hat)
    p = _clip(x_hat)
    return -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))


def bce_last_axis_only(x, x_hat):
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    p = _clip(x_hat)
    return -np.mean(np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1))


# --- PCA reconstruction
def _top(x_train, k, center=True):
    mean = x_train.mean(axis=0) if center else 0.0
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    return mean, vt[:k]


def pca_not_centred(x_train, x, k):
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    _, v = _top(x_train, k, center=False)
    return x @ v.T @ v


def pca_centres_x_with_its_own_mean(x_train, x, k):
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    mean, v = _top(x_train, k)
    own = x.mean(axis=0)
    return (x - own) @ v.T @ v + own


def pca_forgets_to_add_the_mean(x_train, x, k):
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    mean, v = _top(x_train, k)
    return (x - mean) @ v.T @ v


def pca_smallest_components(x_train, x, k):  # eigh sorts ascending: the last k are the largest
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    mean = x_train.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(x_train - mean, rowvar=False))
    v = vectors[:, :k].T
    return (x - mean) @ v.T @ v + mean


def pca_standardised(x_train, x, k):
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    _, v = _top((x_train - mean) / std, k, center=False)
    return ((x - mean) / std) @ v.T @ v * std + mean


def pca_returns_codes(x_train, x, k):  # the encoding (M, k), not the reconstruction (M, D)
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    mean, v = _top(x_train, k)
    return (x - mean) @ v.T


# --- autoencoder forward pass (dict layers, y = activation(h·kernel + bias), returns (z, x̂))
def _stable_sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


_ACT = {"relu": lambda a: np.maximum(a, 0), "sigmoid": _stable_sigmoid, "linear": lambda a: a}


def _ae(
    x,
    encoder_layers,
    decoder_layers,
    act=None,
    bias=True,
    kernel=lambda k: k,
    last_act=True,
    decoder_input="z",
    chained=True,
    swap=False,
):
    act = act or _ACT

    def run(h, layers, last_is_output):
        start = h
        for i, layer in enumerate(layers):
            a = (h if chained else start) @ kernel(np.asarray(layer["kernel"], np.float64))
            a = a + (np.asarray(layer["bias"], np.float64) if bias else 0.0)
            skip = last_is_output and i == len(layers) - 1 and not last_act
            h = a if skip else act[layer["activation"]](a)
        return h

    x = np.asarray(x, np.float64)
    z = run(x, encoder_layers, False)
    x_hat = run(z if decoder_input == "z" else x, decoder_layers, True)
    return (x_hat, z) if swap else (z, x_hat)


def ae_no_bias(x, encoder_layers, decoder_layers):
    return _ae(x, encoder_layers, decoder_layers, bias=False)


# "linear" treated as relu: a relu on the code
def ae_relu_on_linear_layers(x, encoder_layers, decoder_layers):
    return _ae(x, encoder_layers, decoder_layers, act={**_ACT, "linear": _ACT["relu"]})


def ae_relu_and_sigmoid_swapped(x, encoder_layers, decoder_layers):
    return _ae(
        x,
        encoder_layers,
        decoder_layers,
        act={**_ACT, "relu": _ACT["sigmoid"], "sigmoid": _ACT["relu"]},
    )


# forgot the decoder's last activation
def ae_returns_output_logits(x, encoder_layers, decoder_layers):
    return _ae(x, encoder_layers, decoder_layers, last_act=False)


# x @ kernel.T (PyTorch's (out, in) layout)
def ae_transposed_kernel(x, encoder_layers, decoder_layers):
    return _ae(x, encoder_layers, decoder_layers, kernel=lambda k: k.T)


def ae_returns_x_hat_then_z(x, encoder_layers, decoder_layers):
    return _ae(x, encoder_layers, decoder_layers, swap=True)


def ae_decoder_reads_x(x, encoder_layers, decoder_layers):  # the code is never fed to the decoder
    return _ae(x, encoder_layers, decoder_layers, decoder_input="x")


def ae_layers_not_chained(x, encoder_layers, decoder_layers):  # every layer reads its stack's input
    return _ae(x, encoder_layers, decoder_layers, chained=False)


# e^a / (1 + e^a): inf/inf = NaN for a = 1e4
def ae_overflowing_sigmoid(x, encoder_layers, decoder_layers):
    return _ae(
        x,
        encoder_layers,
        decoder_layers,
        act={**_ACT, "sigmoid": lambda a: np.exp(a) / (1 + np.exp(a))},
    )


# ignores the names: relu hidden, linear code, sigmoid out
def ae_fixed_activations(x, encoder_layers, decoder_layers):
    def fixed(layers, output):
        return [
            {
                **layer,
                "activation": "relu"
                if i < len(layers) - 1
                else ("sigmoid" if output else "linear"),
            }
            for i, layer in enumerate(layers)
        ]

    return _ae(x, fixed(encoder_layers, False), fixed(decoder_layers, True))


def ae_returns_only_x_hat(x, encoder_layers, decoder_layers):
    return _ae(x, encoder_layers, decoder_layers)[1]


MUTANTS = {
    "ch03.mse_reconstruction_loss": [
        mse_mean_over_features,
        mse_sum_over_everything,
        mse_last_axis_only,
        mse_norm_not_squared,
        mse_absolute_error,
        mse_divided_by_features,
        mse_per_sample,
    ],
    "ch03.bce_reconstruction_loss": [
        bce_mean_over_features,
        bce_no_clip,
        bce_log2,
        bce_missing_negative_term,
        bce_swapped_arguments,
        bce_sum_over_everything,
        bce_last_axis_only,
    ],
    "ch03.pca_reconstruction": [
        pca_not_centred,
        pca_centres_x_with_its_own_mean,
        pca_forgets_to_add_the_mean,
        pca_smallest_components,
        pca_standardised,
        pca_returns_codes,
    ],
    "ch03.autoencoder_forward": [
        ae_no_bias,
        ae_relu_on_linear_layers,
        ae_relu_and_sigmoid_swapped,
        ae_returns_output_logits,
        ae_transposed_kernel,
        ae_returns_x_hat_then_z,
        ae_decoder_reads_x,
        ae_layers_not_chained,
        ae_overflowing_sigmoid,
        ae_fixed_activations,
        ae_returns_only_x_hat,
    ],
}


# --- correct answers written differently from the reference
def mse_keras_times_features(x, x_hat):  # D × Keras's per-sample mean, averaged over samples
    import keras

    x, x_hat = _flat(x, x_hat)
    return float(np.mean(keras.losses.mean_squared_error(x, x_hat))) * x.shape[1]


def mse_tensorflow(x, x_hat):
    x, x_hat = tf.constant(x, tf.float32), tf.constant(x_hat, tf.float32)
    axes = list(range(1, len(x.shape)))
    return tf.reduce_mean(tf.reduce_sum(tf.square(x - x_hat), axis=axes))


def bce_keras_times_features(x, x_hat):
    import keras

    x, x_hat = _flat(x, x_hat)
    return float(np.mean(keras.losses.binary_crossentropy(x, x_hat))) * x.shape[1]


def bce_tensorflow(x, x_hat):
    x, x_hat = (
        tf.constant(x, tf.float32),
        tf.clip_by_value(tf.constant(x_hat, tf.float32), 1e-7, 1 - 1e-7),
    )
    per_pixel = -(x * tf.math.log(x_hat) + (1 - x) * tf.math.log(1 - x_hat))
    return tf.reduce_mean(tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(x)[0], -1]), axis=1))


def pca_sklearn(x_train, x, k):
    from sklearn.decomposition import PCA

    pca = PCA(n_components=k, svd_solver="full").fit(x_train)
    return pca.inverse_transform(pca.transform(x))


def pca_eigh_sorted(x_train, x, k):  # eigenvectors of the covariance, largest eigenvalues first
    x_train, x = np.asarray(x_train, np.float64), np.asarray(x, np.float64)
    mean = x_train.mean(axis=0)
    values, vectors = np.linalg.eigh((x_train - mean).T @ (x_train - mean))
    v = vectors[:, np.argsort(values)[::-1][:k]]
    return ((x - mean) @ v @ v.T + mean).tolist()


# float64 throughout, the stable σ via tanh
def ae_float64_reduce(x, encoder_layers, decoder_layers):
    def run(h, layers):
        for layer in layers:
            kernel, bias = (
                np.asarray(layer["kernel"], np.float64),
                np.asarray(layer["bias"], np.float64),
            )
            a = np.einsum("ni,io->no", h, kernel) + bias
            h = {
                "relu": lambda: np.where(a > 0, a, 0.0),
                "sigmoid": lambda: 0.5 * (1 + np.tanh(a / 2)),
                "linear": lambda: a,
            }[layer["activation"]]()
        return h

    z = run(np.asarray(x, np.float64), encoder_layers)
    return z, run(z, decoder_layers)


def ae_loop_over_samples(x, encoder_layers, decoder_layers):  # one sample at a time, float32
    def one(v, layers):
        for layer in layers:
            a = v @ layer["kernel"] + layer["bias"]
            if layer["activation"] == "relu":
                a = np.maximum(a, np.float32(0))
            elif layer["activation"] == "sigmoid":
                e = np.exp(-np.abs(a))
                a = np.where(a >= 0, 1 / (1 + e), e / (1 + e))
            v = a
        return v

    codes = [one(row, encoder_layers) for row in np.asarray(x, np.float32)]
    return np.stack(codes), np.stack([one(code, decoder_layers) for code in codes])


def ae_keras_ops(x, encoder_layers, decoder_layers):
    import keras

    def run(h, layers):
        for layer in layers:
            a = keras.ops.matmul(h, layer["kernel"]) + layer["bias"]
            h = {"relu": keras.ops.relu, "sigmoid": keras.ops.sigmoid, "linear": lambda t: t}[
                layer["activation"]
            ](a)
        return h

    z = run(keras.ops.convert_to_tensor(x, "float32"), encoder_layers)
    return keras.ops.convert_to_numpy(z), keras.ops.convert_to_numpy(run(z, decoder_layers))


ALTERNATIVES = {
    "ch03.mse_reconstruction_loss": [mse_keras_times_features, mse_tensorflow],
    "ch03.bce_reconstruction_loss": [bce_keras_times_features, bce_tensorflow],
    "ch03.pca_reconstruction": [pca_sklearn, pca_eigh_sorted],
    "ch03.autoencoder_forward": [ae_float64_reduce, ae_loop_over_samples, ae_keras_ops],
}

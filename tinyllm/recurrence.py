"""Chapter 2 — how far back a recurrent layer can see: the gradient of its last output with respect
to each input step."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tinyllm.validation import require_positive_int


def input_sensitivity(
    layer, length: int = 120, features: int = 8, batch: int = 32, seed: int = 0
) -> np.ndarray:
    """How strongly the final state of a recurrent ``layer`` depends on each input, by distance.

    For random inputs x (batch, length, features) and a fixed random direction v, the
    gradient ∂(v·h_T)/∂x_t measures the influence of the input at step t on the final
    state h_T (and it is exactly the gradient a loss on h_T sends back to step t).
    Returns ``(length,)``: entry d is the mean ‖∂(v·h_T)/∂x_{T−d}‖, d = 0 the last step.
    One gradient call, no training.
    """
    length = require_positive_int(length, "length")
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch, length, features)).astype(np.float32))
    if not layer.built:
        layer.build((None, None, features))
    v = tf.constant(rng.normal(size=(1, layer.units)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        projection = tf.reduce_sum(layer(x) * v)
    gradient = tape.gradient(projection, x)  # (batch, length, features)
    return tf.reduce_mean(tf.norm(gradient, axis=-1), axis=0).numpy()[::-1]


def recurrent_layers_for_sensitivity(units: int = 32, features: int = 8, seed: int = 0) -> dict:
    """Four freshly initialised layers for :func:`input_sensitivity`, by label.

    * tanh RNN (Keras defaults: orthogonal recurrent kernel)
    * tanh RNN with its recurrent kernel ×3 (larger weights, to fight the vanishing)
    * LSTM (Keras defaults: forget-gate bias 1, so f ≈ σ(1) ≈ 0.73)
    * LSTM with its forget gate open (forget-gate bias 5, f ≈ 0.99): what training can
      learn for the units that must remember
    """

    keras.utils.set_random_seed(seed)
    rnn = keras.layers.SimpleRNN(units)
    big_rnn = keras.layers.SimpleRNN(units)
    lstm = keras.layers.LSTM(units)
    open_lstm = keras.layers.LSTM(units)
    for layer in (rnn, big_rnn, lstm, open_lstm):
        layer.build((None, None, features))
    big_rnn.cell.recurrent_kernel.assign(big_rnn.cell.recurrent_kernel * 3.0)
    bias = open_lstm.cell.bias.numpy()
    bias[units : 2 * units] = 5.0  # the forget block (gate order i, f, c, o)
    open_lstm.cell.bias.assign(bias)
    return {
        "tanh RNN": rnn,
        "tanh RNN, recurrent weights ×3": big_rnn,
        "LSTM (forget bias 1)": lstm,
        "LSTM, forget gate open (bias 5)": open_lstm,
    }

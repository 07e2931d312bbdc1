"""Chapter 2: the classic mistakes, each of which the public cases must catch."""

import numpy as np
import tensorflow as tf


def _sig(v):
    return 0.5 * (1 + np.tanh(0.5 * np.asarray(v, np.float64)))


def _z(x, h, kernel, recurrent_kernel, bias):
    return np.asarray(x) @ kernel + np.asarray(h) @ recurrent_kernel + bias


# --- lstm_cell_step
# TF1's LSTMCell packs i, j (candidate), f, o
def lstm_tf1_gate_order(x, h, c, kernel, recurrent_kernel, bias):
    i, g, f, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_new), c_new


def lstm_forget_input_swapped(x, h, c, kernel, recurrent_kernel, bias):
    f, i, g, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_new), c_new


def lstm_no_tanh_on_cell(x, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * c_new, c_new


def lstm_sigmoid_candidate(x, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * _sig(g)
    return _sig(o) * np.tanh(c_new), c_new


def lstm_h_from_old_cell(x, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c), c_new


def lstm_returns_c_then_h(x, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return c_new, _sig(o) * np.tanh(c_new)


def lstm_ignores_recurrent(x, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(np.asarray(x) @ kernel + bias, 4, axis=1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_new), c_new


# unit_forget_bias is an initializer, not +1
def lstm_extra_forget_bias(x, h, c, kernel, recurrent_kernel, bias):
    i, f, g, o = np.split(_z(x, h, kernel, recurrent_kernel, bias), 4, axis=1)
    c_new = _sig(f + 1.0) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_new), c_new


# gates taken as columns 0::4, 1::4, ...
def lstm_interleaved_gates(x, h, c, kernel, recurrent_kernel, bias):
    z = _z(x, h, kernel, recurrent_kernel, bias)
    i, f, g, o = z[:, 0::4], z[:, 1::4], z[:, 2::4], z[:, 3::4]
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c_new), c_new


# --- shift_right
def shift_roll(targets, start_id):  # wraps the last target around to the front
    return np.roll(np.asarray(targets), 1, axis=1)


def shift_left(targets, start_id):  # that is the *target* alignment, not the decoder input
    targets = np.asarray(targets)
    return np.concatenate([targets[:, 1:], np.full((len(targets), 1), start_id)], axis=1)


def shift_batch_axis(targets, start_id):
    targets = np.asarray(targets)
    return np.concatenate([np.full((1, targets.shape[1]), start_id), targets[:-1]], axis=0)


def shift_keeps_last(targets, start_id):  # (b, t+1): no longer lines up with the targets
    targets = np.asarray(targets)
    return np.concatenate([np.full((len(targets), 1), start_id), targets], axis=1)


def shift_overwrites_first(targets, start_id):
    out = np.array(targets, copy=True)
    out[:, 0] = start_id
    return out


def shift_hardcoded_start(targets, start_id):
    targets = np.asarray(targets)
    return np.concatenate([np.ones((len(targets), 1), targets.dtype), targets[:, :-1]], axis=1)


# --- masked_sequence_cross_entropy
def _log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _token_losses(y_true, logits):
    return -np.take_along_axis(_log_softmax(logits), np.asarray(y_true)[..., None], axis=-1)[..., 0]


def ce_ignores_mask(y_true, logits, mask):
    return _token_losses(y_true, logits).mean()


# Keras's default sum_over_batch_size with sample_weight
def ce_divides_by_all_positions(y_true, logits, mask):
    return (_token_losses(y_true, logits) * mask).sum() / np.size(mask)


def ce_mean_of_sentence_means(y_true, logits, mask):
    losses = _token_losses(y_true, logits) * mask
    return np.mean(losses.sum(axis=1) / mask.sum(axis=1))


def ce_sum(y_true, logits, mask):
    return (_token_losses(y_true, logits) * mask).sum()


def ce_naive_softmax(y_true, logits, mask):  # exp overflows for large logits
    logits = np.asarray(logits, np.float32)
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(p, np.asarray(y_true)[..., None], axis=-1)[..., 0]
    return -(np.log(picked) * mask).sum() / mask.sum()


def ce_logits_as_probabilities(y_true, logits, mask):
    picked = np.take_along_axis(
        np.asarray(logits, np.float64), np.asarray(y_true)[..., None], axis=-1
    )[..., 0]
    return -(np.log(np.clip(picked, 1e-7, None)) * mask).sum() / mask.sum()


def ce_softmax_over_time(y_true, logits, mask):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    picked = np.take_along_axis(log_p, np.asarray(y_true)[..., None], axis=-1)[..., 0]
    return -(picked * mask).sum() / mask.sum()


def ce_inverted_mask(y_true, logits, mask):
    keep = 1 - np.asarray(mask)
    return (_token_losses(y_true, logits) * keep).sum() / max(keep.sum(), 1)


# --- decoder_step (embedding → one LSTM step → logits)
def _decoder(
    token_ids,
    h,
    c,
    params,
    order="ifco",
    x_from="embedding",
    logits_from="h",
    state="new",
    softmax=False,
    dense_bias=True,
    h_cell="new",
):
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    ids = np.asarray(token_ids)
    h, c = np.asarray(h, np.float64), np.asarray(c, np.float64)
    x = {
        "embedding": lambda: p["embedding"][ids],
        "one_hot": lambda: np.eye(len(p["embedding"]))[ids],  # only runs when V = e
        "raw_ids": lambda: ids[:, None] * np.ones((1, p["embedding"].shape[1])),
    }[x_from]()
    blocks = dict(
        zip(order, np.split(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 4, axis=1))
    )
    c_new = _sig(blocks["f"]) * c + _sig(blocks["i"]) * np.tanh(blocks["c"])
    h_new = _sig(blocks["o"]) * np.tanh(c_new if h_cell == "new" else c)
    logits = (h_new if logits_from == "h" else c_new) @ p["dense_kernel"] + (
        p["dense_bias"] if dense_bias else 0.0
    )
    if softmax:
        logits = np.exp(logits - logits.max(-1, keepdims=True))
        logits /= logits.sum(-1, keepdims=True)
    return (logits, h_new, c_new) if state == "new" else (logits, h, c)


def decoder_gate_order_ifoc(token_ids, h, c, params):  # the candidate block taken last
    return _decoder(token_ids, h, c, params, order="ifoc")


def decoder_forget_input_swapped(token_ids, h, c, params):
    return _decoder(token_ids, h, c, params, order="fico")


# embedding skipped: one-hot ids into the kernel
def decoder_one_hot_input(token_ids, h, c, params):
    return _decoder(token_ids, h, c, params, x_from="one_hot")


# embedding skipped: the id itself as every feature
def decoder_raw_ids_input(token_ids, h, c, params):
    return _decoder(token_ids, h, c, params, x_from="raw_ids")


def decoder_logits_from_cell(token_ids, h, c, params):  # logits = c'·dense_kernel + dense_bias
    return _decoder(token_ids, h, c, params, logits_from="c")


def decoder_returns_old_state(token_ids, h, c, params):  # (logits, h, c): the state never moves on
    return _decoder(token_ids, h, c, params, state="old")


def decoder_softmax_probabilities(token_ids, h, c, params):
    return _decoder(token_ids, h, c, params, softmax=True)


def decoder_forgets_dense_bias(token_ids, h, c, params):
    return _decoder(token_ids, h, c, params, dense_bias=False)


def decoder_h_from_old_cell(token_ids, h, c, params):  # h' = o ⊙ tanh(c), the old cell state
    return _decoder(token_ids, h, c, params, h_cell="old")


MUTANTS = {
    "ch02.lstm_cell_step": [
        lstm_tf1_gate_order,
        lstm_forget_input_swapped,
        lstm_no_tanh_on_cell,
        lstm_sigmoid_candidate,
        lstm_h_from_old_cell,
        lstm_returns_c_then_h,
        lstm_ignores_recurrent,
        lstm_extra_forget_bias,
        lstm_interleaved_gates,
    ],
    "ch02.shift_right": [
        shift_roll,
        shift_left,
        shift_batch_axis,
        shift_keeps_last,
        shift_overwrites_first,
        shift_hardcoded_start,
    ],
    "ch02.masked_sequence_cross_entropy": [
        ce_ignores_mask,
        ce_divides_by_all_positions,
        ce_mean_of_sentence_means,
        ce_sum,
        ce_naive_softmax,
        ce_logits_as_probabilities,
        ce_softmax_over_time,
        ce_inverted_mask,
    ],
    "ch02.decoder_step": [
        decoder_gate_order_ifoc,
        decoder_forget_input_swapped,
        decoder_one_hot_input,
        decoder_raw_ids_input,
        decoder_logits_from_cell,
        decoder_returns_old_state,
        decoder_softmax_probabilities,
        decoder_forgets_dense_bias,
        decoder_h_from_old_cell,
    ],
}


# --- correct answers written differently from the reference
def lstm_keras_cell(x, h, c, kernel, recurrent_kernel, bias):
    import keras

    cell = keras.layers.LSTMCell(h.shape[1])
    cell.build((None, x.shape[1]))
    cell.set_weights([kernel, recurrent_kernel, bias])
    h_new, (_, c_new) = cell(x, [h, c])
    return h_new.numpy(), c_new.numpy()


def lstm_tensorflow(x, h, c, kernel, recurrent_kernel, bias):
    z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
    i, f, g, o = tf.split(z, 4, axis=-1)
    c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return [tf.sigmoid(o) * tf.tanh(c_new), c_new]


def shift_pad(targets, start_id):
    return tf.pad(tf.constant(targets)[:, :-1], [[0, 0], [1, 0]], constant_values=start_id)


def shift_loop(targets, start_id):
    return [[start_id] + list(row[:-1]) for row in np.asarray(targets).tolist()]


def ce_tensorflow(y_true, logits, mask):
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.constant(y_true), logits=tf.constant(logits)
    )
    mask = tf.cast(mask, losses.dtype)
    return tf.reduce_sum(losses * mask) / tf.reduce_sum(mask)


def ce_keras(y_true, logits, mask):
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    )
    return loss(y_true, logits, sample_weight=mask)


def decoder_float64(token_ids, h, c, params):  # float64 throughout, gates by name
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = p["embedding"][np.asarray(token_ids)]
    z = x @ p["kernel"] + np.asarray(h, np.float64) @ p["recurrent_kernel"] + p["bias"]
    u = z.shape[1] // 4
    gate = lambda k: z[:, k * u : (k + 1) * u]  # noqa: E731
    c_new = _sig(gate(1)) * np.asarray(c, np.float64) + _sig(gate(0)) * np.tanh(gate(2))
    h_new = _sig(gate(3)) * np.tanh(c_new)
    return h_new @ p["dense_kernel"] + p["dense_bias"], h_new, c_new


def decoder_keras_cell(token_ids, h, c, params):  # keras.layers.LSTMCell and Embedding, float32
    import keras

    h, c = np.asarray(h, np.float32), np.asarray(c, np.float32)
    embedding = keras.layers.Embedding(*np.shape(params["embedding"]))
    embedding.build((None,))
    embedding.set_weights([np.asarray(params["embedding"], np.float32)])
    x = embedding(np.asarray(token_ids, np.int32))
    cell = keras.layers.LSTMCell(h.shape[1])
    cell.build((None, x.shape[1]))
    cell.set_weights(
        [np.asarray(params[k], np.float32) for k in ("kernel", "recurrent_kernel", "bias")]
    )
    h_new, (_, c_new) = cell(x, [h, c])
    dense_kernel, dense_bias = (
        np.asarray(params[k], np.float32) for k in ("dense_kernel", "dense_bias")
    )
    logits = tf.matmul(h_new, dense_kernel) + dense_bias
    return logits.numpy(), h_new.numpy(), c_new.numpy()


# one-hot rows times the embedding, einsum for every product
def decoder_einsum(token_ids, h, c, params):
    e = np.asarray(params["embedding"])
    x = np.einsum("bv,ve->be", np.eye(len(e))[np.asarray(token_ids)], e)
    z = (
        np.einsum("be,eg->bg", x, params["kernel"])
        + np.einsum("bu,ug->bg", h, params["recurrent_kernel"])
        + params["bias"]
    )
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    h_new = _sig(o) * np.tanh(c_new)
    return (
        np.einsum("bu,uv->bv", h_new, params["dense_kernel"]) + params["dense_bias"],
        h_new,
        c_new,
    )


ALTERNATIVES = {
    "ch02.lstm_cell_step": [lstm_keras_cell, lstm_tensorflow],
    "ch02.shift_right": [shift_pad, shift_loop],
    "ch02.masked_sequence_cross_entropy": [ce_tensorflow, ce_keras],
    "ch02.decoder_step": [decoder_float64, decoder_keras_cell, decoder_einsum],
}

"""Chapter 2 — LSTM encoder–decoder (seq2seq) on a small translation task.

Encoder–decoder with teacher forcing (source x of S tokens, target y of T tokens, y_T = <end>):

    (h, c)      = LSTM_enc(Embed_src(x))         final state only: the whole source in 2u numbers
    d           = shift_right(y, <start>) = (<start>, y_1, …, y_{T−1})
    logits      = Dense(LSTM_dec(Embed_tgt(d), initial_state=(h, c)))      (b, T, V)
    P(y_t | y_<t, x) = softmax(logits_t)[y_t]
    L           = −(1/N) Σ_{unpadded (b, t)} log P(y_t | y_<t, x)
                                                 N = number of unpadded targets
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tinyllm.tokenizers import END_ID, PAD_ID, START_ID
from tinyllm.validation import as_array, require_positive_int


def build_seq2seq(
    source_vocab_size: int,
    target_vocab_size: int,
    embedding_dim: int = 64,
    units: int = 128,
    learning_rate: float = 5e-3,
    seed: int = 0,
):
    """A compiled encoder–decoder: inputs ``[encoder_inputs (b, S), decoder_inputs (b, T)]`` →
    logits (b, T, V).

    Layers (by name, reused by :func:`greedy_decode`): ``source_embedding`` (mask_zero,
    so the encoder LSTM skips padding and its final state is the state after the last
    real word), ``encoder_lstm`` (return_state), ``target_embedding``, ``decoder_lstm``
    (return_sequences, return_state, started from the encoder's (h, c)) and ``logits``
    (Dense, no softmax: the loss takes logits).

    The loss is ``SparseCategoricalCrossentropy(from_logits=True,
    reduction="mean_with_sample_weight")``: trained with ``sample_weight = target_mask``
    it is the masked mean over real target tokens, −(1/N) Σ log P(y_t | y_<t, x).
    The decoder embedding has no mask: the decoder is causal, so padding after <end>
    cannot change earlier predictions, and padded targets get weight 0 in the loss.
    """

    source_vocab_size = require_positive_int(source_vocab_size, "source_vocab_size")
    target_vocab_size = require_positive_int(target_vocab_size, "target_vocab_size")
    keras.utils.set_random_seed(seed)
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    x = keras.layers.Embedding(
        source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding"
    )(encoder_inputs)
    _, h, c = keras.layers.LSTM(units, return_state=True, name="encoder_lstm")(x)
    y = keras.layers.Embedding(target_vocab_size, embedding_dim, name="target_embedding")(
        decoder_inputs
    )
    y, _, _ = keras.layers.LSTM(
        units, return_sequences=True, return_state=True, name="decoder_lstm"
    )(y, initial_state=[h, c])
    logits = keras.layers.Dense(target_vocab_size, name="logits")(y)
    model = keras.Model([encoder_inputs, decoder_inputs], logits, name="seq2seq")
    return compile_seq2seq(model, learning_rate)


def compile_seq2seq(model, learning_rate: float):
    """Compile a seq2seq model (logits (b, T, V) out) for ``train_seq2seq``: Adam with gradient
    clipping, and the masked token loss — targets' padding weighted 0, the mean taken over real
    tokens only."""

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
    )
    return model


def train_seq2seq(
    model, data, epochs: int = 7, batch_size: int = 128, validation: bool = True, verbose: int = 0
):
    """Teacher-forced training with the padding masked out of the loss; returns the Keras
    ``History``.

    Works for any model with inputs ``[encoder_inputs, decoder_inputs]`` and logits
    (b, T, V) out (chapter 4's attention model too). ``history.history`` holds
    ``loss``/``token_accuracy`` per epoch and their ``val_`` versions (teacher-forced
    token accuracy, which is higher than the accuracy of free-running decoding).
    """
    epochs = require_positive_int(epochs, "epochs")
    batch_size = require_positive_int(batch_size, "batch_size")
    train = data.train
    kwargs = {}
    if validation:
        v = data.validation
        kwargs["validation_data"] = ([v.encoder_inputs, v.decoder_inputs], v.targets, v.target_mask)
    return model.fit(
        [train.encoder_inputs, train.decoder_inputs],
        train.targets,
        sample_weight=train.target_mask,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=verbose,
        **kwargs,
    )


def inference_models(model):
    """``(encoder, step_model)`` built from the trained model's own layers (shared weights, no
    copy).

    encoder:      encoder_inputs (b, S) → [h (b, u), c (b, u)]
    step_model: [token (b, 1), h, c] → [logits (b, 1, V), h, c]
    """

    cached = getattr(model, "_ch02_inference", None)
    if cached is not None:
        return cached
    try:
        layers = {
            name: model.get_layer(name)
            for name in (
                "source_embedding",
                "encoder_lstm",
                "target_embedding",
                "decoder_lstm",
                "logits",
            )
        }
    except ValueError as error:
        raise ValueError(
            f"greedy_decode needs a model from build_seq2seq (named layers): {error}"
        ) from None
    units = layers["decoder_lstm"].units
    source = keras.Input((None,), dtype="int32")
    _, h, c = layers["encoder_lstm"](layers["source_embedding"](source))
    encoder = keras.Model(source, [h, c], name="encoder")

    token = keras.Input((1,), dtype="int32")
    h_in, c_in = keras.Input((units,)), keras.Input((units,))
    y, h_out, c_out = layers["decoder_lstm"](
        layers["target_embedding"](token), initial_state=[h_in, c_in]
    )
    step_model = keras.Model(
        [token, h_in, c_in], [layers["logits"](y), h_out, c_out], name="decoder_step"
    )
    model._ch02_inference = (encoder, step_model)
    return encoder, step_model


def decoder_params(model) -> dict:
    """The decoder's weights of a :func:`build_seq2seq` model as float32 NumPy arrays, by the names
    of
    ``ch02.step_model``: ``embedding`` (V, e); the LSTM's ``kernel`` (e, 4u), ``recurrent_kernel``
    (u, 4u), ``bias`` (4u,) (gates i, f, c, o); the logits layer's ``dense_kernel`` (u, V),
    ``dense_bias`` (V,)."""
    numpy = lambda variable: keras.ops.convert_to_numpy(variable).astype(np.float32)  # noqa: E731
    cell, dense = model.get_layer("decoder_lstm").cell, model.get_layer("logits")
    return {
        "embedding": numpy(model.get_layer("target_embedding").embeddings),
        "kernel": numpy(cell.kernel),
        "recurrent_kernel": numpy(cell.recurrent_kernel),
        "bias": numpy(cell.bias),
        "dense_kernel": numpy(dense.kernel),
        "dense_bias": numpy(dense.bias),
    }


def _check_encoder_inputs(encoder_inputs, max_source_length: int | None):
    encoder_inputs = as_array(encoder_inputs, "encoder_inputs", ndim=2, dtype="int").astype(
        np.int32
    )
    if encoder_inputs.shape[0] == 0 or encoder_inputs.shape[1] == 0:
        raise ValueError(
            f"encoder_inputs is empty (shape {encoder_inputs.shape}): give at least one sentence"
        )
    if encoder_inputs.min() < 0:
        raise ValueError("encoder_inputs holds negative ids")
    lengths = (encoder_inputs != PAD_ID).sum(axis=1)
    if (lengths == 0).any():
        raise ValueError(
            f"row {int(np.argmax(lengths == 0))} of encoder_inputs is all padding (an empty "
            "sentence)"
        )
    if max_source_length is not None and lengths.max() > max_source_length:
        raise ValueError(
            f"a source sentence has {int(lengths.max())} tokens; the model supports "
            f"{max_source_length}"
        )
    return encoder_inputs


def greedy_decode(model, encoder_inputs, max_length: int, batch_size: int = 512) -> np.ndarray:
    """Greedy decoding, one token at a time, carrying the decoder's (h, c): ids (b, max_length).

    Encode once; then start from <start> and repeatedly feed the argmax of the last
    step back in as the next input. Rows that produced <end> are padded with 0
    afterwards; a row that never produces <end> stops at ``max_length`` tokens
    (the caller's cap, normally the target length the model was trained on).
    """
    encoder_inputs = _check_encoder_inputs(encoder_inputs, None)
    max_length = require_positive_int(max_length, "max_length")
    encoder, step_model = inference_models(model)
    outputs = []
    for begin in range(0, len(encoder_inputs), batch_size):
        batch = tf.constant(encoder_inputs[begin : begin + batch_size])
        h, c = encoder(batch, training=False)
        token = tf.fill((len(batch), 1), START_ID)
        done = np.zeros(len(batch), bool)
        ids = np.zeros((len(batch), max_length), np.int32)
        for t in range(max_length):
            logits, h, c = step_model([token, h, c], training=False)
            token = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)[:, None]
            ids[:, t] = np.where(done, PAD_ID, token.numpy()[:, 0])
            done |= ids[:, t] == END_ID
            if done.all():
                break
        outputs.append(ids)
    return np.concatenate(outputs)


def greedy_decode_full(model, encoder_inputs, max_length: int, batch_size: int = 512) -> np.ndarray:
    """Greedy decoding for *any* ``[encoder_inputs, decoder_inputs] → logits`` model: ids (b,
    max_length).

    Re-runs the whole model on the growing prefix at every step (O(T²) work, no state
    to carry), so it also decodes chapter 4's attention model. On an LSTM seq2seq it
    gives the same ids as :func:`greedy_decode`.
    """
    encoder_inputs = _check_encoder_inputs(encoder_inputs, None)
    max_length = require_positive_int(max_length, "max_length")
    outputs = []
    for begin in range(0, len(encoder_inputs), batch_size):
        batch = tf.constant(encoder_inputs[begin : begin + batch_size])
        prefix = np.full((len(batch), 1), START_ID, np.int32)
        done = np.zeros(len(batch), bool)
        ids = np.zeros((len(batch), max_length), np.int32)
        for t in range(max_length):
            logits = model([batch, tf.constant(prefix)], training=False).numpy()
            token = np.argmax(logits[:, -1], axis=-1).astype(np.int32)
            ids[:, t] = np.where(done, PAD_ID, token)
            done |= token == END_ID
            if done.all():
                break
            prefix = np.concatenate([prefix, token[:, None]], axis=1)
        outputs.append(ids)
    return np.concatenate(outputs)


def translate(model, data, sentences, decode=greedy_decode) -> list:
    """Translate English sentences (a string or a list of them) to Zorbian strings.

    Unknown words, an empty sentence or one longer than the model supports raise a
    ``ValueError`` that says which (from :class:`Vocabulary`), before TensorFlow is called.
    """
    single = isinstance(sentences, str)
    if not single and not isinstance(sentences, (list, tuple)):
        raise TypeError(
            f"sentences must be a string or a list of strings, got {type(sentences).__name__}"
        )
    sentences = [sentences] if single else list(sentences)
    if not sentences:
        raise ValueError("sentences is empty: give at least one sentence")
    ids = data.source_vocab.encode_batch(sentences)
    predicted = decode(model, ids, max_length=data.target_vocab.max_length + 1)
    out = [data.target_vocab.decode(row) for row in predicted]
    return out[0] if single else out

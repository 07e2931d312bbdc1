"""Chapter 4 — chapter 2's LSTM encoder–decoder with attention over the encoder's outputs (Luong,
2015).

Source x of S tokens, decoder input d of T tokens (teacher forcing, as in chapter 2):

    e_1 … e_S, (h, c) = LSTM_enc(Embed_src(x))       one vector per source word, kept (not only
                                                     the last)
    s_1 … s_T         = LSTM_dec(Embed_tgt(d), initial_state=(h, c))
    α_t               = softmax_j(s_t · e_j)          dot-product attention over the real source
                                                     words
    c_t               = Σ_j α_tj e_j                   the context vector, afresh at every step
    logits_t          = W [s_t ; c_t] + b              (b, T, V)

Everything but the attention (and the logits layer's extra u inputs) is chapter 2's model.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tinyllm.seq2seq import compile_seq2seq, greedy_decode_full
from tinyllm.validation import as_array, require_positive_int


def build_attention_seq2seq(
    source_vocab_size: int,
    target_vocab_size: int,
    embedding_dim: int = 64,
    units: int = 128,
    learning_rate: float = 5e-3,
    seed: int = 0,
):
    """Chapter 2's encoder–decoder plus dot-product attention: ``[encoder_inputs (b, S),
    decoder_inputs (b, T)]`` ints (0 = padding) → logits (b, T, V), compiled like chapter 2's model
    (Adam, clipnorm 1, masked loss).

    The encoder LSTM returns its whole output sequence e (b, S, u) as well as its final
    state, which starts the decoder LSTM as in chapter 2. At every target step t,
    ``keras.layers.Attention`` (Luong's dot score s_t · e_j, no scale, padding keys
    masked) weights the encoder outputs into a context c_t (b, T, u), and the logits
    layer reads [s_t ; c_t]. The decoder is causal (an LSTM; attention looks only at the
    source), so ``greedy_decode_full`` decodes it.
    """
    source_vocab_size = require_positive_int(source_vocab_size, "source_vocab_size")
    target_vocab_size = require_positive_int(target_vocab_size, "target_vocab_size")
    embedding_dim = require_positive_int(embedding_dim, "embedding_dim")
    units = require_positive_int(units, "units")
    keras.utils.set_random_seed(seed)
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    source_mask = ops.not_equal(encoder_inputs, 0)
    x = keras.layers.Embedding(
        source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding"
    )(encoder_inputs)
    encoder_outputs, h, c = keras.layers.LSTM(
        units, return_sequences=True, return_state=True, name="encoder_lstm"
    )(x)
    y = keras.layers.Embedding(target_vocab_size, embedding_dim, name="target_embedding")(
        decoder_inputs
    )
    decoder_outputs = keras.layers.LSTM(units, return_sequences=True, name="decoder_lstm")(
        y, initial_state=[h, c]
    )
    context, weights = keras.layers.Attention(score_mode="dot", name="attention")(
        [decoder_outputs, encoder_outputs], mask=[None, source_mask], return_attention_scores=True
    )
    both = keras.layers.Concatenate(name="state_and_context")([decoder_outputs, context])
    logits = keras.layers.Dense(target_vocab_size, name="logits")(both)
    model = keras.Model([encoder_inputs, decoder_inputs], logits, name="attention_seq2seq")
    compile_seq2seq(model, learning_rate)
    return model


def lstm_attention_weights(model, encoder_inputs, decoder_inputs) -> np.ndarray:
    """The attention weights α (b, T, S) of a :func:`build_attention_seq2seq` model: row t is the
    distribution over source tokens that the decoder read while predicting target token t."""
    layers = getattr(model, "layers", [])
    attention = [layer for layer in layers if isinstance(layer, keras.layers.Attention)]
    if len(attention) != 1:
        raise ValueError("lstm_attention_weights needs a model made by build_attention_seq2seq")
    probe = keras.Model(model.inputs, attention[0].output[1])  # the same graph, read at α
    return ops.convert_to_numpy(
        probe(paired_token_ids(encoder_inputs, decoder_inputs), training=False)
    )


def paired_token_ids(encoder_inputs, decoder_inputs) -> list:
    """[encoder_inputs (b, S), decoder_inputs (b, T)] as int32 arrays, checked: 2-D integer ids, the
    same b."""
    encoder_inputs = as_array(encoder_inputs, "encoder_inputs", ndim=2, dtype="int").astype(
        np.int32
    )
    decoder_inputs = as_array(decoder_inputs, "decoder_inputs", ndim=2, dtype="int").astype(
        np.int32
    )
    if len(encoder_inputs) != len(decoder_inputs):
        raise ValueError(
            f"encoder_inputs and decoder_inputs must have the same number of rows, got "
            f"{len(encoder_inputs)} and {len(decoder_inputs)}"
        )
    return [encoder_inputs, decoder_inputs]


def compiled_greedy_decode(
    model, encoder_inputs, max_length: int, batch_size: int = 2048
) -> np.ndarray:
    """Chapter 2's ``greedy_decode_full`` with the model's forward pass compiled: the same ids (b,
    max_length).

    ``greedy_decode_full`` calls the model eagerly, op by op from Python, at every step.
    Here the call is one ``tf.function`` traced once for every (b, t), so the whole decode runs
    on one compiled graph.
    """
    ids = tf.TensorSpec((None, None), tf.int32)
    forward = tf.function(
        lambda source, prefix: model([source, prefix], training=False), input_signature=[ids, ids]
    )
    compiled = lambda inputs, training=False: forward(*inputs)  # noqa: E731 - called as model([source, prefix])
    return greedy_decode_full(
        compiled, encoder_inputs, max_length=max_length, batch_size=batch_size
    )

"""Chapter 4 — the pre-layer-norm Transformer block, a decoder block with cross-attention, and a Transformer encoder–decoder.

    x ← x + MultiHead(LayerNorm₁(x))
    x ← x + W₂ · gelu(W₁ · LayerNorm₂(x) + b₁) + b₂
"""

from __future__ import annotations

import math
import weakref

import keras
import numpy as np
from keras import ops

from tinyllm.attention import MultiHeadSelfAttention
from tinyllm.validation import as_array, require_positive_int

@keras.saving.register_keras_serializable(package="tinyllm")
class TransformerBlock(keras.layers.Layer):
    """Pre-layer-norm Transformer block: attention then MLP, each inside a residual.

    ``TransformerBlock(d_model, num_heads, mlp_units=None, activation="gelu", causal=False,
    dropout=0.0, layer_norm_epsilon=1e-5)``; ``mlp_units`` defaults to 4·d_model.

        x ← x + Dropout(MultiHeadSelfAttention(LayerNorm₁(x)))
        x ← x + Dropout(Dense_d(activation(Dense_mlp(LayerNorm₂(x)))))

    call(x, padding_mask=None, training=None, mask=None, return_attention=False)
        x             (b, t, d_model) → (b, t, d_model)
        padding_mask  (b, t) bool, False at padding keys (``mask``, as propagated
                      by Keras from ``Embedding(mask_zero=True)``, is used when
                      ``padding_mask`` is not given)
        return_attention  also return the block's attention weights (b, h, t, t)

    Layer norm before each sub-layer (GPT-2's arrangement, not the 2017 paper's
    post-norm) keeps the residual path an identity, which trains deep stacks
    without warm-up tricks. ``dropout`` applies to attention weights and to each
    residual branch.
    """

    def __init__(self, d_model, num_heads, mlp_units=None, activation="gelu", causal=False, dropout=0.0,
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.mlp_units = require_positive_int(4 * self.d_model if mlp_units is None else mlp_units, "mlp_units")
        self.activation = activation
        self.causal = bool(causal)
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy  # sub-layers follow the block's (mixed-)precision policy
        self.ln1 = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name="ln1")
        self.attention = MultiHeadSelfAttention(self.d_model, self.num_heads, dropout=self.dropout, dtype=policy,
                                                name="attention")
        self.ln2 = keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=policy, name="ln2")
        self.mlp_hidden = keras.layers.Dense(self.mlp_units, activation=activation, dtype=policy, name="mlp_hidden")
        self.mlp_out = keras.layers.Dense(self.d_model, dtype=policy, name="mlp_out")
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.d_model:
            raise ValueError(f"TransformerBlock(d_model={self.d_model}) got x with last axis {input_shape[-1]}")
        self.ln1.build(input_shape)
        self.attention.build(input_shape)
        self.ln2.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_units,))

    def call(self, x, padding_mask=None, training=None, mask=None, return_attention=False):
        if padding_mask is None:
            padding_mask = mask
        attended, weights = self.attention(
            self.ln1(x), mask=padding_mask, causal=self.causal, return_attention=True, training=training
        )
        x = x + self.residual_dropout(attended, training=training)
        x = x + self.residual_dropout(self.mlp_out(self.mlp_hidden(self.ln2(x))), training=training)
        return (x, weights) if return_attention else x

    def compute_mask(self, x, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            d_model=self.d_model, num_heads=self.num_heads, mlp_units=self.mlp_units,
            activation=keras.activations.serialize(keras.activations.get(self.activation))
            if not isinstance(self.activation, str) else self.activation,
            causal=self.causal, dropout=self.dropout, layer_norm_epsilon=self.layer_norm_epsilon,
        )
        return config


@keras.saving.register_keras_serializable(package="tinyllm")
class TransformerDecoderBlock(keras.layers.Layer):
    """Pre-layer-norm decoder block: causal self-attention, cross-attention over the encoder, MLP.

    ``TransformerDecoderBlock(d_model, num_heads, cross_attention_heads=None, mlp_units=None,
    activation="gelu", dropout=0.0, layer_norm_epsilon=1e-5)``

        y ← y + MultiHeadSelfAttention(LayerNorm₁(y), causal)            the target so far
        y ← y + MultiHeadAttention(query=LayerNorm₂(y), key=value=memory)  attention over encoder outputs
        y ← y + MLP(LayerNorm₃(y))

    call(y, memory, memory_mask=None, training=None, return_attention=False)
        y            (b, T, d_model) decoder states
        memory       (b, S, d_model) encoder outputs, one vector per source token
        memory_mask  (b, S) bool, False at source padding
        returns (b, T, d_model); with ``return_attention`` also the cross-attention
        weights (b, cross_attention_heads, T, S): row t is where target step t looked.

    Cross-attention is Keras's ``keras.layers.MultiHeadAttention`` — the same maths as
    :class:`MultiHeadSelfAttention` (the tests show the two equal), with queries from
    the decoder and keys/values from the encoder.
    """

    def __init__(self, d_model, num_heads, cross_attention_heads=None, mlp_units=None, activation="gelu",
                 dropout=0.0, layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.cross_attention_heads = require_positive_int(
            num_heads if cross_attention_heads is None else cross_attention_heads, "cross_attention_heads")
        if self.d_model % self.cross_attention_heads:
            raise ValueError(f"cross_attention_heads={cross_attention_heads} must divide d_model={d_model}")
        self.mlp_units = require_positive_int(4 * self.d_model if mlp_units is None else mlp_units, "mlp_units")
        self.activation = activation
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        policy = self.dtype_policy
        norm = lambda name: keras.layers.LayerNormalization(  # noqa: E731
            epsilon=self.layer_norm_epsilon, dtype=policy, name=name)
        self.ln1, self.ln2, self.ln3 = norm("ln1"), norm("ln2"), norm("ln3")
        self.self_attention = MultiHeadSelfAttention(self.d_model, self.num_heads, dropout=self.dropout, dtype=policy,
                                                     name="self_attention")
        self.cross_attention = keras.layers.MultiHeadAttention(
            self.cross_attention_heads, self.d_model // self.cross_attention_heads, dropout=self.dropout,
            dtype=policy, name="cross_attention")
        self.mlp_hidden = keras.layers.Dense(self.mlp_units, activation=activation, dtype=policy, name="mlp_hidden")
        self.mlp_out = keras.layers.Dense(self.d_model, dtype=policy, name="mlp_out")
        self.residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)

    def build(self, y_shape, memory_shape=None):
        memory_shape = y_shape if memory_shape is None else memory_shape
        self.ln1.build(y_shape)
        self.self_attention.build(y_shape)
        self.ln2.build(y_shape)
        self.cross_attention.build(y_shape, memory_shape)
        self.ln3.build(y_shape)
        self.mlp_hidden.build(y_shape)
        self.mlp_out.build(tuple(y_shape[:-1]) + (self.mlp_units,))

    def call(self, y, memory, memory_mask=None, training=None, return_attention=False):
        drop = lambda z: self.residual_dropout(z, training=training)  # noqa: E731
        y = y + drop(self.self_attention(self.ln1(y), causal=True, training=training))
        cross_mask = None
        if memory_mask is not None:  # (b, S) → (b, T, S): every target step sees the same source tokens
            cross_mask = ops.logical_and(ops.cast(memory_mask, "bool")[:, None, :],
                                         ops.ones((1, ops.shape(y)[1], 1), "bool"))
        attended, weights = self.cross_attention(self.ln2(y), memory, attention_mask=cross_mask,
                                                 return_attention_scores=True, training=training)
        y = y + drop(attended)
        y = y + drop(self.mlp_out(self.mlp_hidden(self.ln3(y))))
        return (y, weights) if return_attention else y

    def get_config(self):
        config = super().get_config()
        config.update(d_model=self.d_model, num_heads=self.num_heads, cross_attention_heads=self.cross_attention_heads,
                      mlp_units=self.mlp_units, activation=self.activation, dropout=self.dropout,
                      layer_norm_epsilon=self.layer_norm_epsilon)
        return config


_ATTENTION_PROBES = weakref.WeakKeyDictionary()  # model → the same graph read at its attention weights


def build_transformer_seq2seq(source_vocab_size: int, target_vocab_size: int, d_model: int = 64, num_heads: int = 4,
                              num_layers: int = 1, cross_attention_heads: int = 1, mlp_units: int | None = None,
                              dropout: float = 0.0, learning_rate: float = 2e-3, seed: int = 0):
    """A compiled Transformer encoder–decoder with chapter 2's interface.

    inputs ``[encoder_inputs (b, S), decoder_inputs (b, T)]`` ints (0 = padding) → logits (b, T, V),
    so chapter 2's ``train_seq2seq``, ``greedy_decode_full`` and ``evaluate`` work on it unchanged.

        memory = LayerNorm(Encoder^L(√d · Embed_src(x) + PE))        (b, S, d) one vector per source word
        y      = LayerNorm(Decoder^L(√d · Embed_tgt(d) + PE, memory)) (b, T, d)
        logits = y W + b                                             (b, T, V)

    PE is the sinusoidal table (``keras_hub.layers.SinePositionEncoding``); the encoder
    blocks are :class:`TransformerBlock` (bidirectional, source padding masked), the
    decoder blocks :class:`TransformerDecoderBlock` (causal, with cross-attention).
    Unlike chapter 2's LSTM, the decoder never squeezes the source into one state: every
    step looks back at all S encoder vectors. One cross-attention head by default, so
    each layer's cross-attention is one alignment you can read
    (:func:`cross_attention_weights`). Compiled like chapter 2's model: Adam with
    clipnorm 1, masked mean cross-entropy from logits (train with ``sample_weight``).
    """
    import keras_hub

    source_vocab_size = require_positive_int(source_vocab_size, "source_vocab_size")
    target_vocab_size = require_positive_int(target_vocab_size, "target_vocab_size")
    num_layers = require_positive_int(num_layers, "num_layers")
    keras.utils.set_random_seed(seed)
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    source_mask = ops.not_equal(encoder_inputs, 0)
    scale = math.sqrt(d_model)

    x = keras.layers.Embedding(source_vocab_size, d_model, name="source_embedding")(encoder_inputs) * scale
    x = x + keras_hub.layers.SinePositionEncoding(name="source_positions")(x)
    maps = {}  # name → attention weights, read by attention_maps()
    for i in range(num_layers):
        x, maps[f"encoder_{i}"] = TransformerBlock(d_model, num_heads, mlp_units=mlp_units, dropout=dropout,
                                                   name=f"encoder_{i}")(x, padding_mask=source_mask,
                                                                        return_attention=True)
    memory = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(x)

    y = keras.layers.Embedding(target_vocab_size, d_model, name="target_embedding")(decoder_inputs) * scale
    y = y + keras_hub.layers.SinePositionEncoding(name="target_positions")(y)
    for i in range(num_layers):
        y, maps[f"decoder_{i}_cross"] = TransformerDecoderBlock(
            d_model, num_heads, cross_attention_heads=cross_attention_heads, mlp_units=mlp_units, dropout=dropout,
            name=f"decoder_{i}")(y, memory, memory_mask=source_mask, return_attention=True)
    y = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(y)
    logits = keras.layers.Dense(target_vocab_size, name="logits")(y)
    model = keras.Model([encoder_inputs, decoder_inputs], logits, name="transformer_seq2seq")
    from tinyllm.seq2seq import compile_seq2seq

    compile_seq2seq(model, learning_rate)  # chapter 2's optimiser and masked loss, for a fair comparison
    # the same graph, read at its attention weights (shares every layer and weight with `model`)
    _ATTENTION_PROBES[model] = keras.Model([encoder_inputs, decoder_inputs], maps)
    return model



def attention_maps(model, encoder_inputs, decoder_inputs) -> dict:
    """The attention weights inside a :func:`build_transformer_seq2seq` model, by layer name.

    ``"encoder_i"``: self-attention of encoder layer i, (b, heads, S, S) — row s is where
    source word s looked. ``"decoder_i_cross"``: cross-attention of decoder layer i,
    (b, cross_heads, T, S) — row t is the distribution over source tokens that the
    decoder read while predicting target token t; for a trained model, an alignment
    between the two sentences. Runs a second Keras model that shares every layer (and
    weight) of ``model``.
    """
    probe = _ATTENTION_PROBES.get(model)
    if probe is None:
        raise ValueError("attention_maps needs a model made by build_transformer_seq2seq in this session")
    encoder_inputs = as_array(encoder_inputs, "encoder_inputs", ndim=2, dtype="int").astype(np.int32)
    decoder_inputs = as_array(decoder_inputs, "decoder_inputs", ndim=2, dtype="int").astype(np.int32)
    if len(encoder_inputs) != len(decoder_inputs):
        raise ValueError(f"encoder_inputs and decoder_inputs must have the same number of rows, got "
                         f"{len(encoder_inputs)} and {len(decoder_inputs)}")
    maps = probe([encoder_inputs, decoder_inputs], training=False)
    return {name: ops.convert_to_numpy(weights) for name, weights in maps.items()}

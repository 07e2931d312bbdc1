"""Chapter 4 — a Transformer encoder–decoder for chapter 2's translation task: a decoder block
with cross-attention, the model, and its attention maps.

    memory = LayerNorm(Encoder^L(√d · Embed_src(x) + PE))           (b, S, d)
    y      = LayerNorm(Decoder^L(√d · Embed_tgt(d) + PE, memory))   (b, T, d)
"""

from __future__ import annotations

import math

import keras
import keras_hub
from keras import ops

from tinyllm.attention import MultiHeadSelfAttention
from tinyllm.attention_seq2seq import paired_token_ids
from tinyllm.seq2seq import compile_seq2seq
from tinyllm.transformer import TransformerBlock
from tinyllm.validation import require_positive_int


@keras.saving.register_keras_serializable(package="tinyllm")
class TransformerDecoderBlock(keras.layers.Layer):
    """Pre-layer-norm decoder block: causal self-attention, cross-attention over the encoder, MLP.

        y ← y + MultiHeadSelfAttention(LayerNorm₁(y), causal)              the target so far
        y ← y + MultiHeadAttention(query=LayerNorm₂(y), key=value=memory)   attention over the
                                                                             source
        y ← y + MLP(LayerNorm₃(y))

    call(y, memory, memory_mask=None, return_attention=False): y (b, T, d) decoder states,
    memory (b, S, d) encoder outputs, memory_mask (b, S) False at source padding; returns
    (b, T, d), and with ``return_attention`` also the cross-attention weights
    (b, cross_attention_heads, T, S): row t is where target step t looked. Cross-attention
    is Keras's ``MultiHeadAttention`` — the same maths as :class:`MultiHeadSelfAttention`
    (the tests show the two equal), with queries from the decoder and keys/values from the encoder.
    """

    def __init__(self, d_model, num_heads, cross_attention_heads=None, **kwargs):
        super().__init__(**kwargs)
        self.d_model = require_positive_int(d_model, "d_model")
        self.num_heads = require_positive_int(num_heads, "num_heads")
        self.cross_attention_heads = require_positive_int(
            num_heads if cross_attention_heads is None else cross_attention_heads,
            "cross_attention_heads",
        )
        if self.d_model % self.cross_attention_heads:
            raise ValueError(
                f"cross_attention_heads={cross_attention_heads} must divide d_model={d_model}"
            )
        policy = self.dtype_policy
        self.ln1, self.ln2, self.ln3 = (
            keras.layers.LayerNormalization(epsilon=1e-5, dtype=policy, name=f"ln{i}")
            for i in (1, 2, 3)
        )
        self.self_attention = MultiHeadSelfAttention(
            self.d_model, self.num_heads, dtype=policy, name="self_attention"
        )
        self.cross_attention = keras.layers.MultiHeadAttention(
            self.cross_attention_heads,
            self.d_model // self.cross_attention_heads,
            dtype=policy,
            name="cross_attention",
        )
        self.mlp_hidden = keras.layers.Dense(
            4 * self.d_model, activation="gelu", dtype=policy, name="mlp_hidden"
        )
        self.mlp_out = keras.layers.Dense(self.d_model, dtype=policy, name="mlp_out")

    def build(self, y_shape, memory_shape=None):
        memory_shape = y_shape if memory_shape is None else memory_shape
        self.ln1.build(y_shape)
        self.self_attention.build(y_shape)
        self.ln2.build(y_shape)
        self.cross_attention.build(y_shape, memory_shape)
        self.ln3.build(y_shape)
        self.mlp_hidden.build(y_shape)
        self.mlp_out.build(tuple(y_shape[:-1]) + (4 * self.d_model,))

    def call(self, y, memory, memory_mask=None, return_attention=False):
        y = y + self.self_attention(self.ln1(y), causal=True)
        cross_mask = None
        # (b, S) → (b, T, S): every target step sees the same source tokens
        if memory_mask is not None:
            cross_mask = ops.logical_and(
                ops.cast(memory_mask, "bool")[:, None, :], ops.ones((1, ops.shape(y)[1], 1), "bool")
            )
        attended, weights = self.cross_attention(
            self.ln2(y), memory, attention_mask=cross_mask, return_attention_scores=True
        )
        y = y + attended
        y = y + self.mlp_out(self.mlp_hidden(self.ln3(y)))
        return (y, weights) if return_attention else y


def build_transformer_seq2seq(
    source_vocab_size: int,
    target_vocab_size: int,
    d_model: int = 64,
    num_heads: int = 4,
    num_layers: int = 1,
    cross_attention_heads: int = 1,
    learning_rate: float = 2e-3,
    seed: int = 0,
):
    """A compiled Transformer encoder–decoder with chapter 2's interface.

    inputs ``[encoder_inputs (b, S), decoder_inputs (b, T)]`` ints (0 = padding) → logits (b, T, V),
    so chapter 2's ``train_seq2seq``, ``greedy_decode_full`` and ``evaluate`` work on it unchanged.

        memory = LayerNorm(Encoder^L(√d · Embed_src(x) + PE))        (b, S, d) one vector per
                                                                     source word
        y      = LayerNorm(Decoder^L(√d · Embed_tgt(d) + PE, memory)) (b, T, d)
        logits = y W + b                                             (b, T, V)

    PE is the sinusoidal table (``keras_hub.layers.SinePositionEncoding``); the encoder
    blocks are :class:`TransformerBlock` (bidirectional, source padding masked), the
    decoder blocks :class:`TransformerDecoderBlock` (causal, with cross-attention).
    Unlike chapter 2's LSTM, the decoder never squeezes the source into one state: every
    step looks back at all S encoder vectors. One cross-attention head by default, so
    each layer's cross-attention is one alignment you can read
    (:func:`attention_maps`). Compiled like chapter 2's model (for a fair comparison): Adam
    with clipnorm 1, masked mean cross-entropy from logits (train with ``sample_weight``).
    """
    source_vocab_size = require_positive_int(source_vocab_size, "source_vocab_size")
    target_vocab_size = require_positive_int(target_vocab_size, "target_vocab_size")
    num_layers = require_positive_int(num_layers, "num_layers")
    keras.utils.set_random_seed(seed)
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    source_mask = ops.not_equal(encoder_inputs, 0)
    scale = math.sqrt(d_model)

    x = (
        keras.layers.Embedding(source_vocab_size, d_model, name="source_embedding")(encoder_inputs)
        * scale
    )
    x = x + keras_hub.layers.SinePositionEncoding(name="source_positions")(x)
    for i in range(num_layers):  # each block also returns its attention, for attention_maps()
        x, _ = TransformerBlock(d_model, num_heads, name=f"encoder_{i}")(
            x, mask=source_mask, return_attention=True
        )
    memory = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(x)

    y = (
        keras.layers.Embedding(target_vocab_size, d_model, name="target_embedding")(decoder_inputs)
        * scale
    )
    y = y + keras_hub.layers.SinePositionEncoding(name="target_positions")(y)
    for i in range(num_layers):
        y, _ = TransformerDecoderBlock(
            d_model, num_heads, cross_attention_heads=cross_attention_heads, name=f"decoder_{i}"
        )(y, memory, memory_mask=source_mask, return_attention=True)
    y = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(y)
    logits = keras.layers.Dense(target_vocab_size, name="logits")(y)
    model = keras.Model([encoder_inputs, decoder_inputs], logits, name="transformer_seq2seq")
    compile_seq2seq(model, learning_rate)
    return model


def attention_maps(model, encoder_inputs, decoder_inputs) -> dict:
    """The attention weights inside a :func:`build_transformer_seq2seq` model, by layer name.

    ``"encoder_i"``: self-attention of encoder layer i, (b, heads, S, S) — row s is where
    source word s looked. ``"decoder_i_cross"``: cross-attention of decoder layer i,
    (b, cross_heads, T, S) — row t is the distribution over source tokens that the
    decoder read while predicting target token t; for a trained model, an alignment
    between the two sentences. Runs a second Keras model on the same graph, read at the
    blocks' attention outputs (it shares every layer and weight of ``model``).
    """
    maps = {}
    for layer in getattr(model, "layers", []):
        if isinstance(layer, TransformerBlock):
            maps[layer.name] = layer.output[1]
        elif isinstance(layer, TransformerDecoderBlock):
            maps[f"{layer.name}_cross"] = layer.output[1]
    if not maps:
        raise ValueError("attention_maps needs a model made by build_transformer_seq2seq")
    probe = keras.Model(model.inputs, maps)
    maps = probe(paired_token_ids(encoder_inputs, decoder_inputs), training=False)
    return {name: ops.convert_to_numpy(weights) for name, weights in maps.items()}

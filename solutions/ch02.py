"""Chapter 2 — LSTM encoder–decoder (seq2seq) on a small translation task.

One LSTM step (Keras's weight layout, gate order i, f, c, o; u units, input size n):

    z  = x·W + h·U + b                 W (n, 4u), U (u, 4u), b (4u,)  → z (b, 4u)
    i  = σ(z[:, 0u:1u])   f = σ(z[:, 1u:2u])   g = tanh(z[:, 2u:3u])   o = σ(z[:, 3u:4u])
    c' = f ⊙ c + i ⊙ g                 (the cell state: updated by addition, not by a matrix)
    h' = o ⊙ tanh(c')

Encoder–decoder with teacher forcing (source x of S tokens, target y of T tokens, y_T = <end>):

    (h, c)      = LSTM_enc(Embed_src(x))                    final state only: the whole source in 2u numbers
    d           = shift_right(y, <start>) = (<start>, y_1, …, y_{T−1})
    logits      = Dense(LSTM_dec(Embed_tgt(d), initial_state=(h, c)))      (b, T, V)
    P(y_t | y_<t, x) = softmax(logits_t)[y_t]
    L           = −(1/N) Σ_{unpadded (b, t)} log P(y_t | y_<t, x)          N = number of unpadded targets

Everything a later chapter needs is importable from here: the dataset
(:func:`load_translation_data` → :class:`TranslationData` of :class:`Split` arrays), the
:class:`Vocabulary`, :func:`build_seq2seq`, :func:`train_seq2seq` (any
``[encoder_inputs, decoder_inputs] → logits`` model), :func:`greedy_decode` (this model's
LSTM states) and :func:`greedy_decode_full` (any such model, e.g. with attention),
:func:`translate`, and the evaluation (:func:`evaluate`, :func:`exact_match`,
:func:`token_accuracy`, :func:`accuracy_by_length`, :func:`plot_accuracy_by_length`,
:func:`prediction_table`). The exercise functions are leaves: nothing here calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.validation import as_array, require_positive_int

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "seq2seq"
PAD, START, END = "<pad>", "<start>", "<end>"
PAD_ID, START_ID, END_ID = 0, 1, 2
SPECIALS = (PAD, START, END)


# --------------------------------------------------------------------------- exercises


def lstm_cell_step(x, h, c, kernel, recurrent_kernel, bias):
    """One LSTM step; returns ``(h_new (b, u), c_new (b, u))``.

    x (b, n), h (b, u), c (b, u); kernel (n, 4u), recurrent_kernel (u, 4u), bias (4u,),
    the gates packed in Keras's order i, f, c (candidate), o along the last axis::

        z = x·kernel + h·recurrent_kernel + bias
        i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
        c_new = f ⊙ c + i ⊙ g ;  h_new = o ⊙ tanh(c_new)
    """
    x = as_array(x, "x", ndim=2, dtype="float").astype(np.float64)
    h = as_array(h, "h", ndim=2, dtype="float").astype(np.float64)
    c = as_array(c, "c", ndim=2, dtype="float").astype(np.float64)
    kernel = as_array(kernel, "kernel", ndim=2, dtype="float").astype(np.float64)
    recurrent_kernel = as_array(recurrent_kernel, "recurrent_kernel", ndim=2, dtype="float").astype(np.float64)
    bias = as_array(bias, "bias", ndim=1, dtype="float").astype(np.float64)
    units = h.shape[1]
    if kernel.shape != (x.shape[1], 4 * units):
        raise ValueError(f"kernel must have shape ({x.shape[1]}, {4 * units}) for x {x.shape} and h {h.shape}, "
                         f"got {kernel.shape}")
    if recurrent_kernel.shape != (units, 4 * units):
        raise ValueError(f"recurrent_kernel must have shape ({units}, {4 * units}), got {recurrent_kernel.shape}")
    if bias.shape != (4 * units,):
        raise ValueError(f"bias must have shape ({4 * units},), got {bias.shape}")
    if c.shape != h.shape or x.shape[0] != h.shape[0]:
        raise ValueError(f"x, h and c must share the batch size and h, c the shape; got {x.shape}, {h.shape}, {c.shape}")

    sigmoid = lambda v: 0.5 * (1.0 + np.tanh(0.5 * v))  # noqa: E731 - stable for any v
    z = x @ kernel + h @ recurrent_kernel + bias
    i, f, g, o = np.split(z, 4, axis=1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h_new = sigmoid(o) * np.tanh(c_new)
    return h_new.astype(np.float32), c_new.astype(np.float32)


def shift_right(targets, start_id):
    """Decoder inputs for teacher forcing: ``(b, t)`` ints → ``start_id`` then ``targets[:, :-1]``.

    At step t the decoder is fed the *true* previous token y_{t−1} (y_0 = start_id)
    and asked for y_t, so inputs and targets line up position by position.
    """
    targets = as_array(targets, "targets", ndim=2, dtype="int")
    if isinstance(start_id, bool) or not isinstance(start_id, (int, np.integer)):
        raise TypeError(f"start_id must be an integer token id, got {start_id!r}")
    start = np.full((targets.shape[0], 1), start_id, dtype=targets.dtype)
    return np.concatenate([start, targets[:, :-1]], axis=1)


def masked_sequence_cross_entropy(y_true, logits, mask):
    """Mean of −log softmax(logits)[y_true] over the positions where ``mask`` is 1.

    y_true (b, t) ints, logits (b, t, v), mask (b, t) of 0/1 → a float32 scalar::

        L = −(1/N) Σ_{b,t} mask_bt · log softmax(logits_bt)[y_bt],   N = Σ mask

    The log-softmax is computed as z − max z − log Σ e^(z − max z), so large logits
    never overflow. An all-zero mask has no tokens to average: the loss is 0.
    """
    y_true = as_array(y_true, "y_true", ndim=2, dtype="int")
    logits = as_array(logits, "logits", ndim=3, dtype="float").astype(np.float64)
    mask = as_array(mask, "mask", ndim=2, dtype="float").astype(np.float64)
    if logits.shape[:2] != y_true.shape or mask.shape != y_true.shape:
        raise ValueError(f"y_true (b, t), logits (b, t, v) and mask (b, t) must agree, got "
                         f"{y_true.shape}, {logits.shape}, {mask.shape}")
    if y_true.size and (y_true.min() < 0 or y_true.max() >= logits.shape[2]):
        raise ValueError(f"y_true ids must lie in [0, {logits.shape[2] - 1}]")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y_true[..., None], axis=-1)[..., 0]
    count = mask.sum()
    return np.float32(-(picked * mask).sum() / count) if count > 0 else np.float32(0.0)


# --------------------------------------------------------------------------- why gates help


def input_sensitivity(layer, length: int = 120, features: int = 8, batch: int = 32, seed: int = 0) -> np.ndarray:
    """How strongly the final state of a recurrent ``layer`` depends on each input, by distance.

    For random inputs x (batch, length, features) and a fixed random direction v, the
    gradient ∂(v·h_T)/∂x_t measures the influence of the input at step t on the final
    state h_T (and it is exactly the gradient a loss on h_T sends back to step t).
    Returns ``(length,)``: entry d is the mean ‖∂(v·h_T)/∂x_{T−d}‖, d = 0 the last step.
    One gradient call, no training.
    """
    import tensorflow as tf

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
    import keras

    keras.utils.set_random_seed(seed)
    rnn = keras.layers.SimpleRNN(units)
    big_rnn = keras.layers.SimpleRNN(units)
    lstm = keras.layers.LSTM(units)
    open_lstm = keras.layers.LSTM(units)
    for layer in (rnn, big_rnn, lstm, open_lstm):
        layer.build((None, None, features))
    big_rnn.cell.recurrent_kernel.assign(big_rnn.cell.recurrent_kernel * 3.0)
    bias = open_lstm.cell.bias.numpy()
    bias[units: 2 * units] = 5.0  # the forget block (gate order i, f, c, o)
    open_lstm.cell.bias.assign(bias)
    return {"tanh RNN": rnn, "tanh RNN, recurrent weights ×3": big_rnn, "LSTM (forget bias 1)": lstm,
            "LSTM, forget gate open (bias 5)": open_lstm}


# --------------------------------------------------------------------------- tokens


class Vocabulary:
    """Words ↔ integer ids for one side of the task, with padding.

    Ids 0, 1, 2 are ``<pad>``, ``<start>``, ``<end>``; the words follow in sorted order.
    A sentence is lower-cased and split on whitespace. :meth:`encode` refuses what
    the model cannot handle, with a message naming the problem: an unknown word
    (there is no ``<unk>``: the lexicon is closed), an empty sentence, or one longer
    than ``max_length`` words (the longest seen in training).
    """

    def __init__(self, words, max_length: int, name: str = "sentence"):
        words = sorted(set(words) - set(SPECIALS))
        if not words:
            raise ValueError("a Vocabulary needs at least one word")
        self.tokens = list(SPECIALS) + words
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        self.max_length = require_positive_int(max_length, "max_length")
        self.name = name

    @classmethod
    def from_sentences(cls, sentences, name: str = "sentence") -> "Vocabulary":
        """Every word of ``sentences``; ``max_length`` is the longest sentence in words."""
        split = [sentence.lower().split() for sentence in sentences]
        return cls({w for words in split for w in words}, max(len(words) for words in split), name)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def size(self) -> int:
        """Number of ids, specials included (the Embedding's ``input_dim``, the softmax width)."""
        return len(self.tokens)

    def words(self, sentence) -> list:
        """The checked list of words of one sentence."""
        if not isinstance(sentence, str):
            raise TypeError(f"{self.name} must be a string, got {type(sentence).__name__}")
        words = sentence.lower().split()
        if not words:
            raise ValueError(f"{self.name} is empty: give at least one word")
        unknown = [w for w in dict.fromkeys(words) if w not in self._ids or w in SPECIALS]
        if unknown:
            shown = ", ".join(repr(w) for w in unknown[:8])
            raise ValueError(f"{self.name} {sentence!r} has {len(unknown)} word(s) outside the vocabulary: {shown} "
                             f"(the vocabulary has {self.size - len(SPECIALS)} words; punctuation is not a word here)")
        if len(words) > self.max_length:
            raise ValueError(f"{self.name} has {len(words)} words; the model supports at most {self.max_length} "
                             "(the longest sentence it was trained on)")
        return words

    def encode(self, sentence: str, add_end: bool = False) -> np.ndarray:
        """``(n,)`` int32 ids of the words of ``sentence`` (``+ <end>`` when ``add_end``)."""
        ids = [self._ids[w] for w in self.words(sentence)]
        return np.array(ids + [END_ID] * add_end, dtype=np.int32)

    def encode_batch(self, sentences, add_end: bool = False, length: int | None = None) -> np.ndarray:
        """``(b, length)`` int32, each row right-padded with ``<pad>`` = 0.

        ``length`` defaults to ``max_length`` (+1 with ``add_end``), so every batch of a
        task has the same width.
        """
        if isinstance(sentences, str):
            raise TypeError(f"encode_batch takes a list of {self.name}s; use encode() for one")
        rows = [self.encode(s, add_end) for s in sentences]
        width = self.max_length + add_end if length is None else require_positive_int(length, "length")
        out = np.full((len(rows), width), PAD_ID, dtype=np.int32)
        for i, row in enumerate(rows):
            if len(row) > width:
                raise ValueError(f"{self.name} {i} has {len(row)} tokens, more than length={width}")
            out[i, : len(row)] = row
        return out

    def decode(self, ids) -> str:
        """Words of ``ids`` (1-D) up to the first ``<end>``; ``<pad>`` and ``<start>`` are skipped."""
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"ids must lie in [0, {self.size - 1}], got [{ids.min()}, {ids.max()}]")
        words = []
        for i in ids:
            if i == END_ID:
                break
            if i not in (PAD_ID, START_ID):
                words.append(self.tokens[i])
        return " ".join(words)


# --------------------------------------------------------------------------- data


@dataclass
class Split:
    """One split as text and as padded int arrays (b sentences).

    encoder_inputs (b, S)   source ids, right-padded with 0
    decoder_inputs (b, T)   <start> y_1 … y_{T−1}: the targets shifted right (teacher forcing)
    targets        (b, T)   y_1 … y_n <end>, right-padded with 0
    source_lengths (b,)     words in each source sentence
    """

    sources: list
    references: list
    encoder_inputs: np.ndarray
    decoder_inputs: np.ndarray
    targets: np.ndarray
    source_lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def target_mask(self) -> np.ndarray:
        """(b, T) float32: 1 where the target is a real token (words and <end>), 0 on padding."""
        return (self.targets != PAD_ID).astype(np.float32)


@dataclass
class TranslationData:
    """The chapter's task: ``train``, ``validation``, ``test`` splits and the two vocabularies."""

    train: Split
    validation: Split
    test: Split
    source_vocab: Vocabulary
    target_vocab: Vocabulary


def read_pairs(path) -> tuple:
    """(sources, targets) from a ``source<TAB>target`` file, with a clear error for a bad line."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path} (regenerate with data/seq2seq/make_dataset.py)")
    sources, targets = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise ValueError(f"{path.name} line {number}: expected 'source<TAB>target', got {line[:60]!r}")
        sources.append(parts[0])
        targets.append(parts[1])
    return sources, targets


def make_split(sources, references, source_vocab: Vocabulary, target_vocab: Vocabulary) -> Split:
    """Encode a list of sentence pairs into a :class:`Split` of padded arrays."""
    encoder_inputs = source_vocab.encode_batch(sources)
    targets = target_vocab.encode_batch(references, add_end=True)
    # Teacher forcing inputs: <start> followed by the targets minus their last column.
    decoder_inputs = np.concatenate([np.full((len(targets), 1), START_ID, np.int32), targets[:, :-1]], axis=1)
    lengths = (encoder_inputs != PAD_ID).sum(axis=1).astype(np.int32)
    return Split(list(sources), list(references), encoder_inputs, decoder_inputs, targets, lengths)


def load_translation_data(directory=None, train_size: int | None = None) -> TranslationData:
    """Load the English → Zorbian task of ``data/seq2seq`` (see its ``make_dataset.py``).

    The vocabularies and maximum lengths come from the training split only (S = 15
    source words, T = 17 target words + <end> = 18; 95 source and 97 target ids). ``train_size`` keeps the first
    that many training pairs (the file is shuffled), for quick experiments.
    """
    directory = DATA_DIR if directory is None else Path(directory)
    train_sources, train_targets = read_pairs(directory / "train.tsv")
    if train_size is not None:
        train_size = require_positive_int(train_size, "train_size")
        train_sources, train_targets = train_sources[:train_size], train_targets[:train_size]
    source_vocab = Vocabulary.from_sentences(train_sources, name="source sentence")
    target_vocab = Vocabulary.from_sentences(train_targets, name="target sentence")
    splits = {"train": make_split(train_sources, train_targets, source_vocab, target_vocab)}
    for name in ("validation", "test"):
        splits[name] = make_split(*read_pairs(directory / f"{name}.tsv"), source_vocab, target_vocab)
    return TranslationData(**splits, source_vocab=source_vocab, target_vocab=target_vocab)


def load_lexicon(directory=None) -> dict:
    """English word → (Zorbian word, category) from ``lexicon.tsv``."""
    directory = DATA_DIR if directory is None else Path(directory)
    rows = [line.split("\t") for line in (directory / "lexicon.tsv").read_text(encoding="utf-8").splitlines()]
    return {english: (zorbian, category) for english, zorbian, category in rows}


# --------------------------------------------------------------------------- the model


def build_seq2seq(source_vocab_size: int, target_vocab_size: int, embedding_dim: int = 64, units: int = 128,
                  learning_rate: float = 5e-3, seed: int = 0):
    """A compiled encoder–decoder: inputs ``[encoder_inputs (b, S), decoder_inputs (b, T)]`` → logits (b, T, V).

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
    import keras

    source_vocab_size = require_positive_int(source_vocab_size, "source_vocab_size")
    target_vocab_size = require_positive_int(target_vocab_size, "target_vocab_size")
    keras.utils.set_random_seed(seed)
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    x = keras.layers.Embedding(source_vocab_size, embedding_dim, mask_zero=True, name="source_embedding")(
        encoder_inputs)
    _, h, c = keras.layers.LSTM(units, return_state=True, name="encoder_lstm")(x)
    y = keras.layers.Embedding(target_vocab_size, embedding_dim, name="target_embedding")(decoder_inputs)
    y, _, _ = keras.layers.LSTM(units, return_sequences=True, return_state=True, name="decoder_lstm")(
        y, initial_state=[h, c])
    logits = keras.layers.Dense(target_vocab_size, name="logits")(y)
    model = keras.Model([encoder_inputs, decoder_inputs], logits, name="seq2seq")
    return compile_seq2seq(model, learning_rate)


def compile_seq2seq(model, learning_rate: float):
    """Compile a seq2seq model (logits (b, T, V) out) for ``train_seq2seq``: Adam with gradient clipping,
    and the masked token loss — targets' padding weighted 0, the mean taken over real tokens only."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
    )
    return model


def train_seq2seq(model, data: TranslationData, epochs: int = 7, batch_size: int = 128, validation: bool = True,
                  verbose: int = 0):
    """Teacher-forced training with the padding masked out of the loss; returns the Keras ``History``.

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
    return model.fit([train.encoder_inputs, train.decoder_inputs], train.targets, sample_weight=train.target_mask,
                     epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose, **kwargs)


# --------------------------------------------------------------------------- inference


def inference_models(model):
    """``(encoder, decoder_step)`` built from the trained model's own layers (shared weights, no copy).

    encoder:      encoder_inputs (b, S) → [h (b, u), c (b, u)]
    decoder_step: [token (b, 1), h, c] → [logits (b, 1, V), h, c]
    """
    import keras

    cached = getattr(model, "_ch02_inference", None)
    if cached is not None:
        return cached
    try:
        layers = {name: model.get_layer(name) for name in
                  ("source_embedding", "encoder_lstm", "target_embedding", "decoder_lstm", "logits")}
    except ValueError as error:
        raise ValueError(f"greedy_decode needs a model from build_seq2seq (named layers): {error}") from None
    units = layers["decoder_lstm"].units
    source = keras.Input((None,), dtype="int32")
    _, h, c = layers["encoder_lstm"](layers["source_embedding"](source))
    encoder = keras.Model(source, [h, c], name="encoder")

    token = keras.Input((1,), dtype="int32")
    h_in, c_in = keras.Input((units,)), keras.Input((units,))
    y, h_out, c_out = layers["decoder_lstm"](layers["target_embedding"](token), initial_state=[h_in, c_in])
    decoder_step = keras.Model([token, h_in, c_in], [layers["logits"](y), h_out, c_out], name="decoder_step")
    model._ch02_inference = (encoder, decoder_step)
    return encoder, decoder_step


def _check_encoder_inputs(encoder_inputs, max_source_length: int | None):
    encoder_inputs = as_array(encoder_inputs, "encoder_inputs", ndim=2, dtype="int").astype(np.int32)
    if encoder_inputs.shape[0] == 0 or encoder_inputs.shape[1] == 0:
        raise ValueError(f"encoder_inputs is empty (shape {encoder_inputs.shape}): give at least one sentence")
    if encoder_inputs.min() < 0:
        raise ValueError("encoder_inputs holds negative ids")
    lengths = (encoder_inputs != PAD_ID).sum(axis=1)
    if (lengths == 0).any():
        raise ValueError(f"row {int(np.argmax(lengths == 0))} of encoder_inputs is all padding (an empty sentence)")
    if max_source_length is not None and lengths.max() > max_source_length:
        raise ValueError(f"a source sentence has {int(lengths.max())} tokens; the model supports {max_source_length}")
    return encoder_inputs


def greedy_decode(model, encoder_inputs, max_length: int, batch_size: int = 512) -> np.ndarray:
    """Greedy decoding, one token at a time, carrying the decoder's (h, c): ids (b, max_length).

    Encode once; then start from <start> and repeatedly feed the argmax of the last
    step back in as the next input. Rows that produced <end> are padded with 0
    afterwards; a row that never produces <end> stops at ``max_length`` tokens
    (the caller's cap, normally the target length the model was trained on).
    """
    import tensorflow as tf

    encoder_inputs = _check_encoder_inputs(encoder_inputs, None)
    max_length = require_positive_int(max_length, "max_length")
    encoder, decoder_step = inference_models(model)
    outputs = []
    for begin in range(0, len(encoder_inputs), batch_size):
        batch = tf.constant(encoder_inputs[begin: begin + batch_size])
        h, c = encoder(batch, training=False)
        token = tf.fill((len(batch), 1), START_ID)
        done = np.zeros(len(batch), bool)
        ids = np.zeros((len(batch), max_length), np.int32)
        for t in range(max_length):
            logits, h, c = decoder_step([token, h, c], training=False)
            token = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)[:, None]
            ids[:, t] = np.where(done, PAD_ID, token.numpy()[:, 0])
            done |= ids[:, t] == END_ID
            if done.all():
                break
        outputs.append(ids)
    return np.concatenate(outputs)


def greedy_decode_full(model, encoder_inputs, max_length: int, batch_size: int = 512) -> np.ndarray:
    """Greedy decoding for *any* ``[encoder_inputs, decoder_inputs] → logits`` model: ids (b, max_length).

    Re-runs the whole model on the growing prefix at every step (O(T²) work, no state
    to carry), so it also decodes chapter 4's attention model. On an LSTM seq2seq it
    gives the same ids as :func:`greedy_decode`.
    """
    import tensorflow as tf

    encoder_inputs = _check_encoder_inputs(encoder_inputs, None)
    max_length = require_positive_int(max_length, "max_length")
    outputs = []
    for begin in range(0, len(encoder_inputs), batch_size):
        batch = tf.constant(encoder_inputs[begin: begin + batch_size])
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


def translate(model, data: TranslationData, sentences, decode=greedy_decode) -> list:
    """Translate English sentences (a string or a list of them) to Zorbian strings.

    Unknown words, an empty sentence or one longer than the model supports raise a
    ``ValueError`` that says which (from :class:`Vocabulary`), before TensorFlow is called.
    """
    single = isinstance(sentences, str)
    if not single and not isinstance(sentences, (list, tuple)):
        raise TypeError(f"sentences must be a string or a list of strings, got {type(sentences).__name__}")
    sentences = [sentences] if single else list(sentences)
    if not sentences:
        raise ValueError("sentences is empty: give at least one sentence")
    ids = data.source_vocab.encode_batch(sentences)
    predicted = decode(model, ids, max_length=data.target_vocab.max_length + 1)
    out = [data.target_vocab.decode(row) for row in predicted]
    return out[0] if single else out


# --------------------------------------------------------------------------- evaluation


def _until_end(row) -> tuple:
    """Ids up to and including the first <end> (all of them if there is none), padding dropped."""
    out = []
    for i in row:
        if i == PAD_ID:
            continue
        out.append(int(i))
        if i == END_ID:
            break
    return tuple(out)


def _check_pair(predicted, targets):
    predicted = as_array(predicted, "predicted", ndim=2, dtype="int")
    targets = as_array(targets, "targets", ndim=2, dtype="int")
    if len(predicted) != len(targets):
        raise ValueError(f"predicted and targets must have the same number of rows, got {len(predicted)} "
                         f"and {len(targets)}")
    return predicted, targets


def exact_match_per_sentence(predicted, targets) -> np.ndarray:
    """(b,) bool: the predicted ids equal the target ids up to and including <end>."""
    predicted, targets = _check_pair(predicted, targets)
    return np.array([_until_end(p) == _until_end(t) for p, t in zip(predicted, targets)], dtype=bool)


def exact_match(predicted, targets) -> float:
    """Fraction of sentences translated exactly (every word and the <end>, nothing extra)."""
    return float(exact_match_per_sentence(predicted, targets).mean())


def token_accuracy_per_sentence(predicted, targets) -> np.ndarray:
    """(b,) float: fraction of target positions (words and <end>) where the prediction has the same id.

    Position by position: a dropped or inserted word shifts everything after it, which
    counts as wrong, as it should for free-running output.
    """
    predicted, targets = _check_pair(predicted, targets)
    width = max(predicted.shape[1], targets.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
    predicted, targets = pad(predicted), pad(targets)
    mask = targets != PAD_ID
    return ((predicted == targets) & mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def token_accuracy(predicted, targets) -> float:
    """Fraction of all target tokens (words and <end>, not padding) predicted at the right position."""
    predicted, targets = _check_pair(predicted, targets)
    width = max(predicted.shape[1], targets.shape[1])
    predicted = np.pad(predicted, ((0, 0), (0, width - predicted.shape[1])))
    targets = np.pad(targets, ((0, 0), (0, width - targets.shape[1])))
    mask = targets != PAD_ID
    return float(((predicted == targets) & mask).sum() / max(mask.sum(), 1))


def accuracy_by_length(source_lengths, predicted, targets) -> dict:
    """Accuracy grouped by source length: ``{"length", "count", "exact_match", "token_accuracy"}`` arrays.

    One entry per distinct length, sorted; token accuracy is pooled over the tokens of
    that length's sentences.
    """
    lengths = as_array(source_lengths, "source_lengths", ndim=1, dtype="int")
    exact = exact_match_per_sentence(predicted, targets)
    if len(lengths) != len(exact):
        raise ValueError(f"source_lengths has {len(lengths)} entries for {len(exact)} sentences")
    predicted, targets = _check_pair(predicted, targets)
    result = {"length": [], "count": [], "exact_match": [], "token_accuracy": []}
    for length in np.unique(lengths):
        rows = lengths == length
        result["length"].append(int(length))
        result["count"].append(int(rows.sum()))
        result["exact_match"].append(float(exact[rows].mean()))
        result["token_accuracy"].append(token_accuracy(predicted[rows], targets[rows]))
    return {k: np.array(v) for k, v in result.items()}


def evaluate(model, split: Split, max_length: int | None = None, decode=greedy_decode) -> dict:
    """Decode ``split`` and score it: ``exact_match``, ``token_accuracy``, ``by_length``, ``predicted``."""
    max_length = split.targets.shape[1] if max_length is None else max_length
    predicted = decode(model, split.encoder_inputs, max_length=max_length)
    return {
        "exact_match": exact_match(predicted, split.targets),
        "token_accuracy": token_accuracy(predicted, split.targets),
        "by_length": accuracy_by_length(split.source_lengths, predicted, split.targets),
        "predicted": predicted,
    }


def plot_accuracy_by_length(results: dict, ax=None, metric: str = "exact_match", title: str = ""):
    """One line per model: ``results`` maps a label to an :func:`accuracy_by_length` dict."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    for label, by_length in results.items():
        ax.plot(by_length["length"], by_length[metric], marker="o", label=label)
    ax.set_xlabel("source length (words)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend()
    return ax


def prediction_table(split: Split, predicted, vocab: Vocabulary, rows) -> str:
    """A plain-text table of source / reference / prediction / ✓ for the given row indices."""
    lines = []
    for i in rows:
        guess = vocab.decode(predicted[i])
        mark = "✓" if guess == split.references[i] else "✗"
        lines.append(f"{mark} [{split.source_lengths[i]:2d}] {split.sources[i]}\n"
                     f"     reference:  {split.references[i]}\n     prediction: {guess}")
    return "\n".join(lines)

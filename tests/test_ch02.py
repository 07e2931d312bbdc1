"""Chapter 2 solutions: equal to Keras's LSTM cell and loss, clear errors, the dataset keeps its
promises.

The full training runs once, in the solved notebook (tests/test_ch02_notebook.py); here
only a tiny smoke model is trained, to exercise decoding.
"""

import importlib.util
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from course.data import SEQ2SEQ_DIR, load_lexicon, load_translation_data, read_pairs
from solutions import ch02
from tinyllm import recurrence, seq2seq, sequence_metrics
from tinyllm.tokenizers import END_ID, PAD_ID, START_ID

ops_numpy = ops.convert_to_numpy


@pytest.fixture(scope="module")
def data():
    return load_translation_data()


# --------------------------------------------------------------------------- exercises vs Keras


@pytest.mark.parametrize("batch,features,units", [(1, 1, 1), (3, 5, 4), (8, 16, 32)])
def test_lstm_cell_step_equals_keras_lstm_cell(batch, features, units):
    rng = np.random.default_rng(units)
    cell = keras.layers.LSTMCell(units)
    cell.build((None, features))
    cell.set_weights(
        [w + rng.normal(0, 0.3, w.shape).astype("float32") for w in cell.get_weights()]
    )
    x = rng.normal(size=(batch, features)).astype("float32")
    h, c = rng.normal(0, 0.5, (2, batch, units)).astype("float32")
    keras_h, (_, keras_c) = cell(x, [h, c])
    ours_h, ours_c = ch02.lstm_cell_step(x, h, c, *cell.get_weights())
    np.testing.assert_allclose(ours_h, keras_h, atol=1e-5)
    np.testing.assert_allclose(ours_c, keras_c, atol=1e-5)


def test_lstm_cell_step_unrolled_equals_keras_lstm_layer():
    rng = np.random.default_rng(0)
    layer = keras.layers.LSTM(6, return_state=True)
    x = rng.normal(size=(4, 9, 3)).astype("float32")
    keras_out, keras_h, keras_c = layer(x)
    h = c = np.zeros((4, 6), "float32")
    for t in range(x.shape[1]):
        h, c = ch02.lstm_cell_step(x[:, t], h, c, *layer.cell.get_weights())
    np.testing.assert_allclose(h, keras_h, atol=1e-5)
    np.testing.assert_allclose(c, keras_c, atol=1e-5)
    np.testing.assert_allclose(h, keras_out, atol=1e-5)


def test_lstm_cell_step_rejects_mismatched_weights():
    x, h = np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")
    with pytest.raises(ValueError, match="kernel must have shape"):
        ch02.lstm_cell_step(x, h, h, np.zeros((3, 12)), np.zeros((4, 16)), np.zeros(16))
    with pytest.raises(ValueError, match="bias must have shape"):
        ch02.lstm_cell_step(x, h, h, np.zeros((3, 16)), np.zeros((4, 16)), np.zeros(12))


def test_shift_right_gives_the_dataset_decoder_inputs(data):
    split = data.validation
    np.testing.assert_array_equal(ch02.shift_right(split.targets, START_ID), split.decoder_inputs)
    assert split.decoder_inputs.shape == split.targets.shape


def test_shift_right_rejects_bad_input():
    with pytest.raises(ValueError, match="targets must have 2"):
        ch02.shift_right(np.array([1, 2, 3]), 1)
    with pytest.raises(TypeError, match="start_id"):
        ch02.shift_right(np.array([[1, 2]]), 1.5)


def _random_batch(seed=0, b=4, t=7, v=11):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, size=b)
    mask = (np.arange(t)[None] < lengths[:, None]).astype("float32")
    return rng.integers(0, v, (b, t)), rng.normal(0, 3, (b, t, v)).astype("float32"), mask


def test_masked_cross_entropy_equals_keras_with_sample_weight():
    y, logits, mask = _random_batch()
    keras_loss = keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    )
    expected = float(keras_loss(y, logits, sample_weight=mask))
    assert ch02.masked_sequence_cross_entropy(y, logits, mask) == pytest.approx(expected, rel=1e-5)


def test_masked_cross_entropy_equals_keras_loss_with_a_propagated_mask():
    """A Keras mask (from Embedding(mask_zero=True)) reaches the loss and gives the same number."""
    rng = np.random.default_rng(1)
    inputs = rng.integers(1, 9, size=(6, 5))
    inputs[0, 3:] = inputs[2, 1:] = inputs[5, 4:] = 0  # padding
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(9, 4, mask_zero=True)(tokens)
    logits = keras.layers.Dense(7)(keras.layers.LSTM(8, return_sequences=True)(x))
    model = keras.Model(tokens, logits)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y = rng.integers(0, 7, size=(6, 5))
    keras_value = model.evaluate(inputs, y, batch_size=6, verbose=0)
    ours = ch02.masked_sequence_cross_entropy(y, model.predict(inputs, verbose=0), inputs != 0)
    assert ours == pytest.approx(keras_value, rel=1e-5)


def test_keras_default_reduction_with_sample_weight_is_not_the_token_mean():
    """The pitfall the chapter warns about: sum_over_batch_size divides by b·t, not by the real
    tokens."""
    y, logits, mask = _random_batch(seed=2)
    default = float(
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits, sample_weight=mask)
    )
    token_mean = float(ch02.masked_sequence_cross_entropy(y, logits, mask))
    assert default == pytest.approx(token_mean * mask.sum() / mask.size, rel=1e-5)
    assert default < token_mean * 0.9


def test_masked_cross_entropy_is_stable_and_checks_shapes():
    logits = np.array([[[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]]], "float32")
    value = ch02.masked_sequence_cross_entropy(np.array([[1, 0]]), logits, np.ones((1, 2)))
    assert np.isfinite(value) and value == pytest.approx((2e4 + np.log(3)) / 2, rel=1e-5)
    assert ch02.masked_sequence_cross_entropy(np.array([[1, 0]]), logits, np.zeros((1, 2))) == 0.0
    with pytest.raises(ValueError, match="must agree"):
        ch02.masked_sequence_cross_entropy(np.zeros((1, 3), int), logits, np.ones((1, 3)))
    with pytest.raises(ValueError, match="y_true ids"):
        ch02.masked_sequence_cross_entropy(np.array([[3, 0]]), logits, np.ones((1, 2)))


def _perturbed_seq2seq(data, seed=3):
    """A build_seq2seq model (e = 8, u = 16) with every weight moved off Keras's start by N(0,
    0.3)."""
    model = seq2seq.build_seq2seq(
        data.source_vocab.size, data.target_vocab.size, embedding_dim=8, units=16
    )
    rng = np.random.default_rng(seed)
    model.set_weights(
        [w + rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()]
    )
    return model


def test_decoder_step_on_decoder_params_equals_the_keras_decoder_step(data):
    """ch02.decoder_step on decoder_params(model) is inference_models(model)[1], the step
    greedy_decode runs.

    Measured max |Δ| = 1.2e-7 on logits up to 1.3, 8.9e-8 on h', 1.4e-7 on c' (seeds 3, 5, 7: ≤
    2.4e-7): float32 Keras against the float64 reference, a few float32 ulps. Band 1e-5; h' moves
    1.2 from h.
    """
    model = _perturbed_seq2seq(data)
    params = seq2seq.decoder_params(model)
    assert sorted(params) == sorted(ch02.DECODER_KEYS)
    assert all(v.dtype == np.float32 for v in params.values())
    assert np.abs(params["dense_bias"]).max() > 0.3 and np.abs(params["bias"]).max() > 0.3
    _, keras_step = seq2seq.inference_models(model)
    rng = np.random.default_rng(4)
    ids = rng.integers(0, data.target_vocab.size, 6)
    h, c = rng.normal(0, 0.5, (2, 6, 16)).astype("float32")
    keras_logits, keras_h, keras_c = (
        ops_numpy(v) for v in keras_step([ids[:, None].astype("int32"), h, c])
    )
    logits, h_new, c_new = ch02.decoder_step(ids, h, c, params)
    assert logits.shape == (6, data.target_vocab.size) and logits.dtype == np.float32
    assert np.abs(logits - keras_logits[:, 0]).max() < 1e-5
    assert np.abs(h_new - keras_h).max() < 1e-5 and np.abs(c_new - keras_c).max() < 1e-5
    assert np.abs(keras_h - h).max() > 0.5  # the state moved: the check is not vacuous


def test_greedy_decoding_with_the_reference_step_gives_greedy_decode_ids(data):
    """Repeating ch02.decoder_step from the encoder's (h, c), argmax fed back in, gives
    greedy_decode's ids.

    Measured on these 8 sentences × 18 steps (the untrained model never says <end>): the smallest
    gap between the two largest logits of a step is 3.8e-4 (seeds 5, 7: 1.1e-2, 6.9e-4), a thousand
    times the ≤ 3.6e-7 that separates the NumPy and the Keras step's logits along the way, so no
    near-tie can flip a token.
    """
    model = _perturbed_seq2seq(data)
    sources = data.test.encoder_inputs[::195][:8]
    length = data.target_vocab.max_length + 1
    expected = seq2seq.greedy_decode(model, sources, length)
    encoder, _ = seq2seq.inference_models(model)
    h, c = (ops_numpy(v) for v in encoder(sources))
    params = seq2seq.decoder_params(model)
    token = np.full(len(sources), START_ID)
    ids, done = np.zeros((len(sources), length), np.int32), np.zeros(len(sources), bool)
    gaps = []
    for t in range(length):
        logits, h, c = ch02.decoder_step(token, h, c, params)
        top2 = np.sort(logits, axis=-1)[:, -2:]
        gaps.append((top2[:, 1] - top2[:, 0])[~done].min() if (~done).any() else np.inf)
        token = logits.argmax(axis=-1)
        ids[:, t] = np.where(done, PAD_ID, token)
        done |= ids[:, t] == END_ID
    np.testing.assert_array_equal(ids, expected)
    # far above the steps' disagreement: a flipped token would be a real bug
    assert min(gaps) > 1e-5
    # 6 measured: not one token repeated, the steps really differ
    assert len(np.unique(expected)) >= 5


def _decoder_dict(v=7, e=3, u=2):
    rng = np.random.default_rng(0)
    shapes = {
        "embedding": (v, e),
        "kernel": (e, 4 * u),
        "recurrent_kernel": (u, 4 * u),
        "bias": (4 * u,),
        "dense_kernel": (u, v),
        "dense_bias": (v,),
    }
    return {k: rng.normal(size=shape).astype("float32") for k, shape in shapes.items()}


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda p, s: ch02.decoder_step(
                [1, 2], s, s, {k: v for k, v in p.items() if k != "dense_bias"}
            ),
            "params is missing dense_bias",
        ),
        (lambda p, s: ch02.decoder_step([1, 7], s, s, p), r"token_ids must lie in \[0, 6\]"),
        (lambda p, s: ch02.decoder_step([-1, 0], s, s, p), r"token_ids must lie in \[0, 6\]"),
        (lambda p, s: ch02.decoder_step([[1], [2]], s, s, p), "token_ids must have 1 dimension"),
        (lambda p, s: ch02.decoder_step([1.5, 2], s, s, p), "token_ids must hold whole numbers"),
        (lambda p, s: ch02.decoder_step([1, 2, 3], s, s, p), "must share b"),
        (lambda p, s: ch02.decoder_step([1, 2], s, np.zeros((2, 3)), p), "must share b"),
        (
            lambda p, s: ch02.decoder_step([1, 2], s, s, {**p, "dense_kernel": np.zeros((2, 6))}),
            r"dense_kernel must have shape \(2, 7\)",
        ),
        (
            lambda p, s: ch02.decoder_step([1, 2], s, s, {**p, "kernel": np.zeros((4, 8))}),
            r"kernel must have shape \(3, 8\) for embedding \(7, 3\)",
        ),
        (
            lambda p, s: ch02.decoder_step([1, 2], s, s, {**p, "bias": np.zeros(6)}),
            r"bias must have shape \(8,\)",
        ),
        (lambda p, s: ch02.decoder_step([1, 2], s, s, list(p.values())), "params must be a dict"),
    ],
)
def test_decoder_step_rejects_bad_input(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(_decoder_dict(), np.zeros((2, 2), "float32"))


def test_decoder_step_keeps_float64():
    p = {k: v.astype(np.float64) for k, v in _decoder_dict().items()}
    h = np.random.default_rng(1).normal(size=(3, 2))
    logits, h_new, c_new = ch02.decoder_step(np.array([0, 6, 3]), h, h, p)
    assert logits.dtype == h_new.dtype == c_new.dtype == np.float64
    expected_h, expected_c = ch02.lstm_cell_step(
        p["embedding"][[0, 6, 3]], h, h, p["kernel"], p["recurrent_kernel"], p["bias"]
    )
    np.testing.assert_allclose(h_new, expected_h, atol=1e-6)
    np.testing.assert_allclose(logits, h_new @ p["dense_kernel"] + p["dense_bias"], atol=1e-12)


# --------------------------------------------------------------------------- tokens and data


def test_vocabulary_round_trip_and_padding(data):
    vocab = data.source_vocab
    assert vocab.tokens[:3] == ["<pad>", "<start>", "<end>"] and vocab.size == len(vocab)
    ids = vocab.encode("The cat  sleeps")
    assert ids.dtype == np.int32 and vocab.decode(ids) == "the cat sleeps"
    batch = vocab.encode_batch(["the cat sleeps", "anna sleeps"], add_end=True)
    assert batch.shape == (2, vocab.max_length + 1)
    assert list(batch[1, :3]) == [vocab.encode("anna")[0], vocab.encode("sleeps")[0], END_ID]
    assert (batch[1, 3:] == PAD_ID).all()
    assert vocab.decode([START_ID, *ids, END_ID, 5, 6]) == "the cat sleeps"  # stops at <end>


@pytest.mark.parametrize(
    "sentence,error,message",
    [
        ("", ValueError, "empty"),
        ("   ", ValueError, "empty"),
        ("the zebra sleeps", ValueError, "outside the vocabulary: 'zebra'"),
        ("the cat sleeps.", ValueError, "'sleeps.'"),
        ("the <end> sleeps", ValueError, "'<end>'"),
        (" ".join(["the big dog"] * 6), ValueError, "at most 15"),
        (42, TypeError, "must be a string"),
    ],
)
def test_vocabulary_gives_clear_errors(data, sentence, error, message):
    with pytest.raises(error, match=re.escape(message)):
        data.source_vocab.encode(sentence)


def test_decode_rejects_ids_outside_the_vocabulary(data):
    with pytest.raises(ValueError, match="ids must lie in"):
        data.target_vocab.decode([3, 999])


def test_dataset_shapes_and_lengths(data):
    assert (len(data.train), len(data.validation), len(data.test)) == (19500, 390, 1560)
    assert data.train.encoder_inputs.shape == (19500, 15) and data.train.targets.shape == (
        19500,
        18,
    )
    for split in (data.train, data.validation, data.test):
        lengths, counts = np.unique(split.source_lengths, return_counts=True)
        # the same number per length
        assert list(lengths) == list(range(3, 16)) and len(set(counts)) == 1
        assert split.encoder_inputs.dtype == np.int32
        assert ((split.targets == END_ID).sum(axis=1) == 1).all()
        np.testing.assert_array_equal(split.target_mask, split.targets != PAD_ID)


def test_held_out_sentences_are_unseen_and_distinct(data):
    train = set(data.train.sources)
    for split in (data.validation, data.test):
        assert not train & set(split.sources)
        assert len(set(split.sources)) == len(split)
    assert not set(data.validation.sources) & set(data.test.sources)


def test_targets_follow_the_zorbian_rules(data):
    """Same content words as the source (through the lexicon), plus the particles; the verb goes
    last."""
    lexicon = load_lexicon()
    assert len({zorbian for zorbian, _ in lexicon.values()}) == len(lexicon)  # one-to-one
    for source, target in zip(data.test.sources[:300], data.test.references[:300]):
        words = source.split()
        translated = [lexicon[w][0] for w in words]
        target_words = target.split()
        content = [w for w in target_words if w not in ("ne", "po")]
        assert sorted(content) == sorted(translated)
        verb = next(w for w in words if lexicon[w][1] in ("vt", "vi"))
        assert target_words[-1] == lexicon[verb][0]
        assert target_words.count("po") == (lexicon[verb][1] == "vt")


def test_dataset_generator_reproduces_the_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_dataset", SEQ2SEQ_DIR / "make_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--out", str(tmp_path)])
    for name in ("train.tsv", "validation.tsv", "test.tsv", "lexicon.tsv", "info.json"):
        assert (tmp_path / name).read_bytes() == (SEQ2SEQ_DIR / name).read_bytes(), name


def test_read_pairs_reports_a_bad_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("the cat sleeps\tkiru nate ne tave\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv line 2"):
        read_pairs(path)
    with pytest.raises(FileNotFoundError, match="make_dataset.py"):
        read_pairs(tmp_path / "missing.tsv")


# --------------------------------------------------------------------------- evaluation


def test_exact_match_and_token_accuracy_by_hand():
    targets = np.array([[5, 6, 2, 0], [7, 2, 0, 0], [5, 5, 5, 2]])
    predicted = np.array([[5, 6, 2, 0, 0], [7, 8, 2, 0, 0], [5, 5, 6, 2, 0]])
    np.testing.assert_array_equal(
        sequence_metrics.exact_match_per_sentence(predicted, targets), [True, False, False]
    )
    assert sequence_metrics.exact_match(predicted, targets) == pytest.approx(1 / 3)
    # tokens: 3/3, 1/2 (the <end> comes one step late), 3/4 (position by position)
    assert sequence_metrics.token_accuracy(predicted, targets) == pytest.approx(7 / 9)
    np.testing.assert_allclose(
        sequence_metrics.token_accuracy_per_sentence(predicted, targets), [1, 0.5, 0.75]
    )
    # no <end> at all is not an exact match, even if the words are right
    assert not sequence_metrics.exact_match_per_sentence(
        np.array([[7, 0, 0]]), np.array([[7, 2, 0]])
    )[0]
    by_length = sequence_metrics.accuracy_by_length([2, 1, 2], predicted, targets)
    assert list(by_length["length"]) == [1, 2] and list(by_length["count"]) == [1, 2]
    np.testing.assert_allclose(by_length["exact_match"], [0, 0.5])
    np.testing.assert_allclose(by_length["token_accuracy"], [0.5, 6 / 7])
    with pytest.raises(ValueError, match="same number of rows"):
        sequence_metrics.exact_match(predicted[:2], targets)


# --------------------------------------------------------------------------- model and decoding


def test_build_seq2seq_shapes_and_loss():
    model = seq2seq.build_seq2seq(20, 30, embedding_dim=8, units=16)
    logits = model([np.ones((3, 7), "int32"), np.ones((3, 5), "int32")])
    assert logits.shape == (3, 5, 30)
    for name in ("source_embedding", "encoder_lstm", "target_embedding", "decoder_lstm", "logits"):
        model.get_layer(name)
    assert model.loss.reduction == "mean_with_sample_weight" and model.loss.from_logits
    with pytest.raises(ValueError, match="target_vocab_size must be a positive integer"):
        seq2seq.build_seq2seq(20, 0)


def test_encoder_state_ignores_padding():
    """mask_zero on the source embedding: padding a sentence does not change the encoder's final
    state."""
    model = seq2seq.build_seq2seq(20, 30, embedding_dim=8, units=16)
    encoder, _ = seq2seq.inference_models(model)
    h_short, c_short = encoder(np.array([[5, 6, 7]], "int32"))
    h_padded, c_padded = encoder(np.array([[5, 6, 7, 0, 0, 0]], "int32"))
    np.testing.assert_allclose(h_short, h_padded, atol=1e-6)
    np.testing.assert_allclose(c_short, c_padded, atol=1e-6)


def test_decoding_rejects_bad_encoder_inputs():
    model = seq2seq.build_seq2seq(20, 30, embedding_dim=8, units=16)
    with pytest.raises(ValueError, match="empty"):
        seq2seq.greedy_decode(model, np.zeros((0, 5), "int32"), 4)
    with pytest.raises(ValueError, match="all padding"):
        seq2seq.greedy_decode(model, np.array([[3, 4], [0, 0]]), 4)
    with pytest.raises(ValueError, match="max_length"):
        seq2seq.greedy_decode(model, np.array([[3, 4]]), 0)
    with pytest.raises(ValueError, match="named layers"):
        seq2seq.greedy_decode(
            keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), np.array([[3, 4]]), 4
        )


def test_input_sensitivity_shows_vanishing_and_the_open_forget_gate():
    sensitivity = {
        label: recurrence.input_sensitivity(layer, length=60)
        for label, layer in recurrence.recurrent_layers_for_sensitivity().items()
    }
    rnn, lstm_open = sensitivity["tanh RNN"], sensitivity["LSTM, forget gate open (bias 5)"]
    assert rnn[50] < 1e-4 * rnn[0]  # vanishes
    assert lstm_open[50] > 0.3 * lstm_open[2]  # carried
    assert sensitivity["tanh RNN, recurrent weights ×3"][50] > 1e3  # explodes


@pytest.mark.slow
def test_smoke_training_and_both_greedy_decoders_agree():
    data = load_translation_data(train_size=512)
    model = seq2seq.build_seq2seq(
        data.source_vocab.size, data.target_vocab.size, embedding_dim=8, units=16
    )
    history = seq2seq.train_seq2seq(model, data, epochs=2, batch_size=128)
    assert history.history["loss"][1] < history.history["loss"][0]
    stepwise = seq2seq.greedy_decode(model, data.test.encoder_inputs[:64], 18)
    rerun = seq2seq.greedy_decode_full(model, data.test.encoder_inputs[:64], 18)
    np.testing.assert_array_equal(stepwise, rerun)
    assert stepwise.shape == (64, 18)
    ended = np.cumsum(stepwise == END_ID, axis=1) > 0  # after the first <end>: padding only
    assert (stepwise[:, 1:][ended[:, :-1]] == PAD_ID).all()
    result = sequence_metrics.evaluate(model, data.test)
    assert 0.0 <= result["exact_match"] <= result["token_accuracy"] <= 1.0
    assert isinstance(seq2seq.translate(model, data, "the cat sleeps"), str)
    assert len(seq2seq.translate(model, data, ["the cat sleeps", "anna runs"])) == 2
    for bad, message in [
        ("", "empty"),
        ("the unicorn sleeps", "unicorn"),
        (" ".join(["the big dog"] * 6), "at most 15"),
        ([], "empty"),
    ]:
        with pytest.raises(ValueError, match=message):
            seq2seq.translate(model, data, bad)
    with pytest.raises(TypeError, match="string or a list"):
        seq2seq.translate(model, data, 42)
    assert tf.executing_eagerly()

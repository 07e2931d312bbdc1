"""Chapter 8: tinyllm.bpe — equal to the exercises' from-scratch algorithm without a split, equal to
keras-hub's BytePairTokenizer with GPT-2's split, Hugging Face's trainer read back, clear errors."""

import numpy as np
import pytest

from course.data import DATA_DIR, load_text
from solutions import ch08
from tinyllm.bpe import (
    GPT2_SPLIT_PATTERN,
    LLAMA3_SPLIT_PATTERN,
    BPETokenizer,
    gpt2_bytes_to_unicode,
    pretokenize,
    to_gpt2_files,
    train_bpe,
    train_bpe_fast,
)

EN = load_text()
ZH = load_text(DATA_DIR / "corpus" / "tiny_world_zh.txt")


@pytest.mark.parametrize(
    "text,merges", [(EN[:2_000], 40), (ZH[:600], 30), ("aaabdaaabac", 3), ("héllo wörld " * 9, 12)]
)
def test_without_a_split_the_library_is_the_exercises_algorithm(text, merges):
    tokenizer = train_bpe(text, 256 + merges, pattern=None)
    assert tokenizer.merges == ch08.bpe_train(text, merges)
    sample = text[::-1][:300]  # a text it was not trained on
    assert tokenizer.encode(sample).tolist() == ch08.bpe_encode(sample, tokenizer.merges)
    ids = tokenizer.encode(text).tolist()
    for cut in (ids, ids[1:7], ids[:-1]):
        assert tokenizer.decode(cut) == ch08.bpe_decode(cut, tokenizer.merges)


def test_rank_order_encoding_equals_replaying_every_merge_inside_each_piece():
    tokenizer = train_bpe(EN[:50_000], 420)
    text = EN[-3_000:]
    replayed = [i for piece in pretokenize(text) for i in ch08.bpe_encode(piece, tokenizer.merges)]
    assert tokenizer.encode(text).tolist() == replayed
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_the_split_keeps_merges_inside_pre_tokens():
    assert pretokenize("the dog. the dog!") == ["the", " dog", ".", " the", " dog", "!"]
    assert pretokenize("it's  windy\n") == ["it", "'s", " ", " windy", "\n"]
    assert pretokenize("ivy saw 12345", LLAMA3_SPLIT_PATTERN) == ["ivy", " saw", " ", "123", "45"]
    tokenizer = train_bpe(EN[:100_000], 450)
    for token in tokenizer.token_bytes[256:]:
        assert len(pretokenize(token.decode("utf-8"))) == 1, token
    dot, bang = tokenizer.encode(" dog."), tokenizer.encode(" dog!")
    assert dot[:-1].tolist() == bang[:-1].tolist() and dot[-1] != bang[-1]


def test_bytes_cover_everything_and_a_cut_character_decodes_to_u_fffd():
    tokenizer = train_bpe(ZH[:20_000], 400)
    for text in ("zebra ξ 🙂 café", "有一天，小红去了海港。"):
        assert tokenizer.decode(tokenizer.encode(text)) == text
    ids = BPETokenizer([]).encode("天")
    assert BPETokenizer([]).decode(ids[:2]) == "\ufffd"


def _keras_hub(tokenizer, texts, graph):
    import keras_hub
    import tensorflow as tf

    vocabulary, merges = to_gpt2_files(tokenizer)
    layer = keras_hub.tokenizers.BytePairTokenizer(vocabulary, merges)
    if graph:
        return [
            row.numpy().tolist() for row in tf.data.Dataset.from_tensor_slices(texts).map(layer)
        ]
    return [np.asarray(layer(t)).tolist() for t in texts]


@pytest.mark.parametrize("text,vocabulary", [(EN, 480), (ZH, 700)], ids=["english", "chinese"])
@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf.data"])
def test_same_ids_as_keras_hub_byte_pair_tokenizer(text, vocabulary, graph):
    tokenizer = train_bpe(text[:200_000], vocabulary)
    lines = [line for line in text[-20_000:].split("\n") if line][:150]
    lines += [
        "one day ivy saw a zebra.  the end!\n",
        "有一天，小红去了海港。 123 dogs",
        "a  b\n\nc",
    ]
    assert _keras_hub(tokenizer, lines, graph) == [
        tokenizer.encode(line).tolist() for line in lines
    ]


def test_gpt2_byte_table_and_file_format():
    table = gpt2_bytes_to_unicode()
    assert len(set(table.values())) == 256 and table[32] == "Ġ" and table[ord("a")] == "a"
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    tokenizer = train_bpe("the cat the hat the mat\n" * 5, 262)
    vocabulary, merges = to_gpt2_files(tokenizer)
    assert len(vocabulary) == 262 and merges[0] == "t h" and vocabulary["Ġthe"] > 255


def test_hugging_face_trainer_reads_back_as_the_same_kind_of_tokenizer():
    fast = train_bpe_fast(EN[:200_000], 450)
    ours = train_bpe(EN[:200_000], 450)
    assert fast.vocabulary_size == 450 and fast.pattern == GPT2_SPLIT_PATTERN
    text = EN[-5_000:]
    assert fast.decode(fast.encode(text)) == text
    # measured: identical in order up to the first tie, 160+ of 194 learned tokens shared, within 2
    # % in length
    assert fast.merges[:5] == ours.merges[:5]
    assert len(set(fast.token_bytes) & set(ours.token_bytes)) - 256 > 0.6 * 194
    assert abs(len(fast.encode(text)) / len(ours.encode(text)) - 1) < 0.05


def test_bad_input_gets_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="at least 256|≥ 256"):
        train_bpe(EN[:1000], 200)
    with pytest.raises(ValueError, match="≥ 256"):
        train_bpe_fast(EN[:1000], 255)
    with pytest.raises(ValueError, match="too short for vocabulary_size=400.*at most 2.. ids"):
        train_bpe("one day ivy went home.\n" * 20, 400)
    with pytest.raises(ValueError, match="non-empty"):
        train_bpe("", 300)
    with pytest.raises(TypeError, match="text must be a str"):
        BPETokenizer([]).encode(b"bytes")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 255\]"):
        BPETokenizer([]).decode([256])
    with pytest.raises(ValueError, match="does not exist yet"):
        BPETokenizer([(300, 1)])
    with pytest.raises(ValueError, match="at least 2 elements"):
        ch08.most_frequent_pair([1])
    path = tmp_path / "t.json"
    path.write_text('{"kind": "something else"}', encoding="utf-8")
    with pytest.raises(ValueError, match="does not hold a byte-level BPE tokenizer"):
        BPETokenizer.load(path)


def test_save_and_load_round_trip(tmp_path):
    tokenizer = train_bpe(ZH[:5_000], 300)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = BPETokenizer.load(tmp_path / "tokenizer.json")
    assert loaded.merges == tokenizer.merges and loaded.pattern == tokenizer.pattern
    assert loaded.encode(ZH[-500:]).tolist() == tokenizer.encode(ZH[-500:]).tolist()

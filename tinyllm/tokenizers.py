"""Tokenizers: text ↔ integer ids.

- :class:`CharTokenizer` (chapter 1): one id per distinct character of a text;
- :class:`Vocabulary` (chapter 2): words ↔ ids with ``<pad>``, ``<start>``, ``<end>``;
- :class:`ByteTokenizer` (chapter 5): UTF-8 bytes, ids 0…255, any language.
"""

from __future__ import annotations

import numpy as np

from tinyllm.validation import as_array, require_positive_int


class CharTokenizer:
    """Characters ↔ integer ids, with the vocabulary taken from a text (sorted, so it is
    reproducible)."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError("CharTokenizer needs a non-empty string to build its vocabulary")
        self.vocabulary = sorted(set(text))
        self._ids = {ch: i for i, ch in enumerate(self.vocabulary)}

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        unknown = sorted(set(text) - self._ids.keys())
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise ValueError(
                f"text contains {len(unknown)} character(s) not in the vocabulary: {shown}"
            )
        return np.fromiter((self._ids[c] for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary_size):
            raise ValueError(
                f"ids must lie in [0, {self.vocabulary_size - 1}], got [{ids.min()}, {ids.max()}]"
            )
        return "".join(self.vocabulary[i] for i in ids)


PAD, START, END = "<pad>", "<start>", "<end>"


PAD_ID, START_ID, END_ID = 0, 1, 2


SPECIALS = (PAD, START, END)


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
            raise ValueError(
                f"{self.name} {sentence!r} has {len(unknown)} word(s) outside the vocabulary: "
                f"{shown} "
                f"(the vocabulary has {self.size - len(SPECIALS)} words; punctuation is not a word "
                "here)"
            )
        if len(words) > self.max_length:
            raise ValueError(
                f"{self.name} has {len(words)} words; the model supports at most {self.max_length} "
                "(the longest sentence it was trained on)"
            )
        return words

    def encode(self, sentence: str, add_end: bool = False) -> np.ndarray:
        """``(n,)`` int32 ids of the words of ``sentence`` (``+ <end>`` when ``add_end``)."""
        ids = [self._ids[w] for w in self.words(sentence)]
        return np.array(ids + [END_ID] * add_end, dtype=np.int32)

    def encode_batch(
        self, sentences, add_end: bool = False, length: int | None = None
    ) -> np.ndarray:
        """``(b, length)`` int32, each row right-padded with ``<pad>`` = 0.

        ``length`` defaults to ``max_length`` (+1 with ``add_end``), so every batch of a
        task has the same width.
        """
        if isinstance(sentences, str):
            raise TypeError(f"encode_batch takes a list of {self.name}s; use encode() for one")
        rows = [self.encode(s, add_end) for s in sentences]
        width = (
            self.max_length + add_end if length is None else require_positive_int(length, "length")
        )
        out = np.full((len(rows), width), PAD_ID, dtype=np.int32)
        for i, row in enumerate(rows):
            if len(row) > width:
                raise ValueError(f"{self.name} {i} has {len(row)} tokens, more than length={width}")
            out[i, : len(row)] = row
        return out

    def decode(self, ids) -> str:
        """Words of ``ids`` (1-D) up to the first ``<end>``; ``<pad>`` and ``<start>`` are
        skipped."""
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"ids must lie in [0, {self.size - 1}], got [{ids.min()}, {ids.max()}]"
            )
        words = []
        for i in ids:
            if i == END_ID:
                break
            if i not in (PAD_ID, START_ID):
                words.append(self.tokens[i])
        return " ".join(words)


class ByteTokenizer:
    """UTF-8 bytes as token ids (vocabulary 256): every text encodes, no unknown characters.

    A Chinese character is 3 bytes, so a byte-level model sees 3 tokens for it
    where a character-level one sees 1. ``decode`` replaces a cut-off multi-byte
    character with U+FFFD, as keras-hub's ``ByteTokenizer`` does.
    """

    vocabulary_size = 256

    def encode(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)

    def decode(self, ids) -> str:
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise ValueError(f"byte ids must lie in [0, 255], got [{ids.min()}, {ids.max()}]")
        return bytes(ids.astype(np.uint8).tolist()).decode("utf-8", errors="replace")

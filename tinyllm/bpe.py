"""Chapter 8 — byte-level byte-pair encoding (BPE): subword tokens learned from a text.

    text ──split (a regular expression)──▶ pre-tokens ──UTF-8──▶ bytes 0…255 ──merges──▶ token ids

Training (Sennrich et al., 2016; byte-level as in GPT-2): count every adjacent pair of ids inside
every pre-token, weighted by how often the pre-token occurs; the most frequent pair (a, b) becomes
a new id 256 + k; replace it everywhere and repeat until the vocabulary has V ids (V − 256 merges).
Merges never cross a pre-token boundary, so "dog" + "." never becomes one token.

Encoding a pre-token applies the learned merges by rank: while some adjacent pair is a merge,
merge every occurrence of the one learned first. That gives the same ids as replaying every merge
in its order, in far fewer passes. Decoding concatenates the bytes of the ids and decodes UTF-8
with ``errors="replace"``: a cut inside a multi-byte character becomes U+FFFD, never an error.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from tinyllm.validation import as_array

# GPT-2's pre-tokenizer (OpenAI's encoder.py): contractions, words with one optional leading space,
# numbers, punctuation runs, and whitespace (a run of spaces leaves its last one to the next word).
GPT2_SPLIT_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)

# Llama 3's: case-insensitive contractions, one non-letter glued before a word, numbers of at most
# three digits, newlines kept apart. keras-hub 0.32's BytePairTokenizer splits with it when called
# eagerly.
LLAMA3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def pretokenize(text: str, pattern: str | None = GPT2_SPLIT_PATTERN) -> list:
    """The pieces of ``text`` that merges stay inside; ``"".join`` of them is ``text``.
    ``pattern=None``: one piece."""
    import regex

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if pattern is None:
        return [text] if text else []
    pieces = regex.findall(pattern, text)
    if "".join(pieces) != text:
        raise ValueError(
            "the split pattern drops characters of the text; every character must land in a piece"
        )
    return pieces


def _replace_pair(word: tuple, pair: tuple, new_id: int) -> tuple:
    """``word`` (a tuple of ids) with each non-overlapping (a, b), left to right, replaced by
    ``new_id``."""
    out = []
    skip = False
    for left, right in zip(word, word[1:] + (None,)):
        if skip:
            skip = False
        elif (left, right) == pair:
            out.append(new_id)
            skip = True
        else:
            out.append(left)
    return tuple(out)


class BPETokenizer:
    """Byte-level BPE: ``merges[k] = (a, b)`` made id 256 + k; the vocabulary has 256 + len(merges)
    ids.

    ``encode(text)`` → (n,) int32 ids; ``decode(ids)`` → str. ``pattern`` is the pre-tokenizer
    (None: the text is one piece, as in the chapter's exercises).
    """

    def __init__(self, merges, pattern: str | None = GPT2_SPLIT_PATTERN):
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.pattern = pattern
        self.token_bytes = [bytes([i]) for i in range(256)]
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise ValueError(
                    f"merge {k} = {(a, b)} uses an id that does not exist yet (ids < {256 + k})"
                )
            self.token_bytes.append(self.token_bytes[a] + self.token_bytes[b])
        self.ranks = {pair: k for k, pair in enumerate(self.merges)}
        self._cache = {}

    @property
    def vocabulary_size(self) -> int:
        return len(self.token_bytes)

    def encode_piece(self, piece: bytes) -> tuple:
        """The ids of one pre-token's bytes: merge the lowest-ranked adjacent pair until none is a
        merge."""
        if piece not in self._cache:
            word = tuple(piece)
            while len(word) > 1:
                pair = min(zip(word, word[1:]), key=lambda p: self.ranks.get(p, len(self.ranks)))
                if pair not in self.ranks:
                    break
                word = _replace_pair(word, pair, 256 + self.ranks[pair])
            self._cache[piece] = word
        return self._cache[piece]

    def encode(self, text: str) -> np.ndarray:
        ids = [
            i
            for piece in pretokenize(text, self.pattern)
            for i in self.encode_piece(piece.encode("utf-8"))
        ]
        return np.array(ids, dtype=np.int32)

    def decode(self, ids) -> str:
        ids = as_array(ids, "ids", ndim=1, dtype="int")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary_size):
            raise ValueError(
                f"ids must lie in [0, {self.vocabulary_size - 1}], got [{ids.min()}, {ids.max()}]"
            )
        return b"".join(self.token_bytes[i] for i in ids.tolist()).decode("utf-8", errors="replace")

    def save(self, path) -> None:
        """One JSON file: the merges and the split pattern (all a BPE tokenizer is)."""
        record = {"kind": "byte-level BPE", "pattern": self.pattern, "merges": self.merges}
        Path(path).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "BPETokenizer":
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if record.get("kind") != "byte-level BPE":
            raise ValueError(f"{path} does not hold a byte-level BPE tokenizer")
        return cls(record["merges"], record["pattern"])


def train_bpe(
    text: str, vocabulary_size: int, pattern: str | None = GPT2_SPLIT_PATTERN
) -> BPETokenizer:
    """Learn ``vocabulary_size − 256`` merges from ``text``; ties go to the pair seen first in the
    text.

    Pairs are counted once per distinct pre-token, times its count, so the cost is
    O(distinct pre-tokens × merges) rather than O(text × merges). A text whose pre-tokens
    run out of pairs before that (every piece a single token) raises ``ValueError``.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("train_bpe needs a non-empty text")
    if (
        isinstance(vocabulary_size, bool)
        or not isinstance(vocabulary_size, (int, np.integer))
        or vocabulary_size < 256
    ):
        raise ValueError(
            "vocabulary_size must be an integer ≥ 256 (the 256 byte values), got "
            f"{vocabulary_size!r}"
        )
    # in order of appearance
    words = Counter(tuple(piece.encode("utf-8")) for piece in pretokenize(text, pattern))
    merges = []
    for new_id in range(256, int(vocabulary_size)):
        pairs = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            raise ValueError(
                f"the text is too short for vocabulary_size={vocabulary_size}: after {len(merges)} "
                "merges every "
                f"pre-token is a single token, so at most {256 + len(merges)} ids can be learned "
                "from it"
            )
        # the first of the most frequent, in order of appearance
        best = max(pairs, key=pairs.__getitem__)
        merges.append(best)
        words = Counter(
            {
                _replace_pair(word, best, new_id) if best[0] in word else word: count
                for word, count in words.items()
            }
        )
    return BPETokenizer(merges, pattern)


def gpt2_bytes_to_unicode() -> dict:
    """GPT-2's byte → printable character table: printable bytes stand for themselves, the 68 others
    (control bytes, space, …) get the characters from U+0100 up. Merge files are written in it."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def to_gpt2_files(tokenizer: BPETokenizer) -> tuple:
    """``(vocabulary {token string: id}, merges ["a b", …])`` in GPT-2's file format, the same ids:
    what ``keras_hub.tokenizers.BytePairTokenizer(vocabulary, merges)`` and Hugging Face read."""
    table = gpt2_bytes_to_unicode()
    spell = lambda i: "".join(table[b] for b in tokenizer.token_bytes[i])  # noqa: E731
    vocabulary = {spell(i): i for i in range(tokenizer.vocabulary_size)}
    return vocabulary, [f"{spell(a)} {spell(b)}" for a, b in tokenizer.merges]


def train_bpe_fast(text: str, vocabulary_size: int) -> BPETokenizer:
    """The same kind of tokenizer trained by Hugging Face ``tokenizers`` (Rust), GPT-2's split,
    read back as a :class:`BPETokenizer`. Ties between equally frequent pairs break differently."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if (
        isinstance(vocabulary_size, bool)
        or not isinstance(vocabulary_size, (int, np.integer))
        or vocabulary_size < 256
    ):
        raise ValueError(
            "vocabulary_size must be an integer ≥ 256 (the 256 byte values), got "
            f"{vocabulary_size!r}"
        )
    fast = Tokenizer(models.BPE())
    # GPT-2's pattern
    fast.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=int(vocabulary_size),
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    fast.train_from_iterator([text], trainer=trainer)
    unicode_to_byte = {char: byte for byte, char in gpt2_bytes_to_unicode().items()}
    ids = {bytes([i]): i for i in range(256)}
    merges = []
    for merge in json.loads(fast.to_str())["model"]["merges"]:
        a, b = merge.split(" ") if isinstance(merge, str) else merge
        left, right = (bytes(unicode_to_byte[c] for c in part) for part in (a, b))
        merges.append((ids[left], ids[right]))
        ids[left + right] = 255 + len(merges)
    return BPETokenizer(merges, GPT2_SPLIT_PATTERN)

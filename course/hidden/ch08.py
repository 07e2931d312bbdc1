"""Chapter 8 hidden grading cases: randomised inputs and edge cases (instructor only)."""

from course.registry import Case, hidden

_WORDS = [
    "one",
    "day",
    "the",
    "river",
    "cat",
    "went",
    "to",
    "有一天",
    "小红",
    "海港",
    "。",
    "，",
    ".",
    " ",
    "\n",
]


def _text(rng, words: int) -> str:
    return "".join(
        _WORDS[i] + (" " if rng.random() < 0.6 else "") for i in rng.integers(0, len(_WORDS), words)
    )


@hidden("ch08.most_frequent_pair")
def _most_frequent_pair(rng):
    return [
        Case("random small ids", ([int(i) for i in rng.integers(0, 4, 200)],)),
        Case("random bytes of a text", (list(_text(rng, 60).encode("utf-8")),)),
        Case("two ids", ([3, 9],)),
        Case("one id repeated", ([5] * 9,)),
        Case("all pairs tie", ([int(i) for i in rng.permutation(30)],)),
        Case("large ids", ([int(i) for i in rng.integers(250, 260, 100)],)),
    ]


@hidden("ch08.merge_pair")
def _merge_pair(rng):
    ids = [int(i) for i in rng.integers(0, 3, 300)]
    return [
        Case("random ids, a common pair", (ids, (ids[0], ids[1]), 256)),
        Case("random ids, a repeated id", (ids, (1, 1), 999)),
        Case("empty", ([], (1, 2), 256)),
        Case("one id", ([1], (1, 1), 256)),
        Case("odd run", ([4] * 7, (4, 4), 300)),
        Case("tuple input", (tuple(ids[:20]), (0, 2), 256)),
    ]


@hidden("ch08.bpe_train")
def _bpe_train(rng):
    return [
        Case("a random text, 20 merges", (_text(rng, 80), 20)),
        Case("a random text, 0 merges", (_text(rng, 10), 0)),
        Case("a single character", ("a", 3)),
        Case("empty text", ("", 2)),
        Case("a repeated character", ("x" * 33, 10)),
        Case("mixed scripts", ("héllo wörld 你好 " * 5, 15)),
    ]


@hidden("ch08.bpe_encode")
def _bpe_encode(rng):
    from solutions.ch08 import bpe_train

    train = _text(rng, 120)
    merges = bpe_train(train, 25)
    return [
        Case("the training text", (train, merges)),
        Case("a new random text", (_text(rng, 40), merges)),
        Case("empty text", ("", merges)),
        Case("characters never seen", ("zebra ξ 🙂", merges)),
        Case("no merges", (_text(rng, 5), [])),
    ]


@hidden("ch08.bpe_decode")
def _bpe_decode(rng):
    from solutions.ch08 import bpe_encode, bpe_train

    train = _text(rng, 120)
    merges = bpe_train(train, 25)
    ids = bpe_encode(train, merges)
    return [
        Case("round trip of the training text", (ids, merges)),
        Case(
            "a random slice (cuts possible)",
            (ids[int(rng.integers(0, 10)) : int(rng.integers(20, 40))], merges),
        ),
        Case("empty", ([], merges)),
        Case("random byte ids", ([int(i) for i in rng.integers(0, 256, 30)], [])),
        Case("every merged id", (list(range(256, 256 + len(merges))), merges)),
    ]

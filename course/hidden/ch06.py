"""Chapter 6 hidden grading cases: randomised inputs and edge cases (instructor only)."""

import numpy as np

from course.registry import Case, hidden


@hidden("ch06.build_sft_example")
def _build_sft_example(rng):
    def ids(n, high=28):
        return rng.integers(3, high, size=n)

    return [
        Case("random prompt 20, response 9, length 40", (ids(20), ids(9), 0, 1, 40)),
        Case("a story-sized example, length 256", (ids(150), ids(35), 0, 0, 256)),
        Case("full to the last token", (ids(5), ids(6), 2, 1, 11)),
        Case("int32 ids", (ids(7).astype(np.int32), ids(4).astype(np.int32), 1, 2, 15)),
        Case("list inputs", (ids(4).tolist(), ids(3).tolist(), 0, 1, 9)),
        Case("empty response, length 1", (ids(1), ids(0), 0, 1, 1)),
    ]


@hidden("ch06.lora_forward")
def _lora_forward(rng):
    def case(shape_x, d_in, d_out, rank, alpha, dtype=np.float32):
        return (
            rng.normal(size=shape_x + (d_in,)).astype(dtype),
            rng.normal(0, 0.1, (d_in, d_out)).astype(dtype),
            rng.normal(0, 0.1, (d_in, rank)).astype(dtype),
            rng.normal(0, 0.1, (rank, d_out)).astype(dtype),
            alpha,
        )

    return [
        Case("the chapter's qkv layer: d 96 → 288, rank 4", case((2, 7), 96, 288, 4, 4.0)),
        Case("rank 1, alpha 16", case((5,), 8, 3, 1, 16.0)),
        Case("rank = d_in", case((3,), 4, 6, 4, 2.0)),
        Case("a single vector", case((), 5, 2, 2, 3.0)),
        Case("float64", case((2, 2), 6, 6, 3, 1.5, np.float64)),
    ]


WORDS = [
    "mia",
    "tom",
    "forest",
    "river",
    "saw",
    "fox",
    "found",
    "red",
    "ball",
    "gave",
    "hat",
    "to",
    "nothing",
]


@hidden("ch06.rouge_l_f1")
def _rouge_l_f1(rng):
    def words(n):
        return " ".join(rng.choice(WORDS, size=n))

    return [
        Case("random 6 vs 8 words", (words(6), words(8))),
        Case("random 12 vs 5 words", (words(12), words(5))),
        Case("one word each, equal", ("fox", "fox")),
        Case("both empty", ("", "")),
        Case("empty reference", ("mia forest", "")),
        Case("tabs and newlines", ("mia\tforest\nsaw fox", "mia forest saw fox")),
        Case("long random", (words(40), words(30))),
    ]

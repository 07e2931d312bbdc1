"""Chapter 8 exercises: public cases (shipped to learners)."""

from course.registry import Case, exercise

_STORY = "one day ivy went to the river. ivy saw a frog near the river. the end.\n"


@exercise(
    "ch08.most_frequent_pair",
    "most_frequent_pair(ids)",
    "the adjacent pair seen most often, every position counted; ties → the first to occur",
)
def most_frequent_pair_cases():
    return [
        Case(
            "one clear winner",
            ([1, 2, 3, 1, 2, 4, 1, 2],),
            hint="count every adjacent pair (ids[i], ids[i+1]) and return the one with the "
            "largest count, as a "
            "tuple (a, b) of two ints",
        ),
        Case(
            "the pair, not one id",
            ([5, 9, 5, 9, 7],),
            hint="count pairs of NEIGHBOURS, zip(ids, ids[1:]), not single ids: the answer is "
            "(5, 9), a tuple",
        ),
        Case(
            "order inside a pair matters",
            ([2, 1, 1, 2, 2, 1, 3, 3, 3, 3],),
            hint="(1, 2) and (2, 1) are different pairs: count (ids[i], ids[i+1]) as an "
            "ordered tuple, don't sort "
            "it; (3, 3) is seen three times, more than either",
        ),
        Case(
            "overlapping repeats all count",
            ([3, 4, 3, 4, 7, 7, 7, 7],),
            hint="count every position, overlaps included: [7, 7, 7, 7] holds (7, 7) three "
            "times, so it beats "
            "(3, 4) seen twice (merging is what skips overlaps, not counting)",
        ),
        Case(
            "ties go to the pair that occurs first",
            ([4, 5, 1, 2, 4, 5, 1, 2],),
            hint="(4, 5) and (1, 2) are both seen twice: keep the one whose first occurrence "
            "comes earliest "
            "(a dict keeps insertion order; max over it returns the first largest), not the "
            "smallest pair",
        ),
        Case(
            "the bytes of a text",
            (list("the cat at the hat".encode("utf-8")),),
            hint="the ids are byte values 0…255 here; count pairs of them exactly as for any ids",
        ),
    ]


@exercise(
    "ch08.merge_pair",
    "merge_pair(ids, pair, new_id)",
    "a new list: every (a, b) replaced by new_id, left to right, without overlap",
)
def merge_pair_cases():
    return [
        Case(
            "two occurrences",
            ([1, 2, 3, 1, 2], (1, 2), 256),
            hint="walk left to right; where ids[i], ids[i+1] == pair, emit new_id and jump "
            "two places, else emit "
            "ids[i] and move one",
        ),
        Case(
            "no overlap: [1, 1, 1] → [new, 1]",
            ([1, 1, 1], (1, 1), 300),
            hint="after a merge skip BOTH ids of the pair: [1, 1, 1] becomes [300, 1], not "
            "[300, 300]",
        ),
        Case(
            "a pair at the very end",
            ([3, 4, 5, 6], (5, 6), 257),
            hint="check i + 1 < len(ids) rather than stopping one id early: the last two ids "
            "can be the pair",
        ),
        Case(
            "the order inside the pair",
            ([2, 1, 1, 2], (1, 2), 256),
            hint="(1, 2) is not (2, 1): compare ids[i] with pair[0] and ids[i+1] with pair[1]",
        ),
        Case(
            "nothing to merge",
            ([9, 8, 7], (7, 9), 256),
            hint="when the pair never occurs, return the ids unchanged (a new list)",
        ),
        Case(
            "four in a row",
            ([0, 0, 0, 0, 0], (0, 0), 260),
            hint="[0]*5 → [260, 260, 0]: two non-overlapping merges, then the odd id left over",
        ),
    ]


@exercise(
    "ch08.bpe_train",
    "bpe_train(text, num_merges)",
    "byte-level BPE: num_merges times, merge the most frequent pair into id 256 + k; the merged "
    "pairs",
)
def bpe_train_cases():
    return [
        Case(
            "three merges on a short text",
            ("aaabdaaabac", 3),
            hint="start from list(text.encode('utf-8')); merge k creates id 256 + k, and "
            "later merges can use it: "
            "here (97, 97) → 256, then (256, 97) → 257, …",
        ),
        Case(
            "new ids count from 256",
            ("abababab", 2),
            hint="the first new id is 256 (after the 256 byte values), the next 257: not 0, "
            "not len(vocab)",
        ),
        Case(
            "recount after every merge",
            (_STORY, 8),
            hint="count the pairs again on the MERGED ids before each merge: counts from the "
            "original bytes go "
            "stale as soon as one pair is merged",
        ),
        Case(
            "bytes, not characters",
            ("有一天，小红去了海港。有一天，小明去了森林。", 6),
            hint="work on text.encode('utf-8') (3 bytes per Chinese character), not on ord() "
            "of each character",
        ),
        Case(
            "stop when fewer than 2 ids remain",
            ("abab", 5),
            hint="'abab' → (97, 98) → [256, 256] → (256, 256) → [257]: then no pair is left, "
            "so stop early and "
            "return the 2 merges made",
        ),
    ]


@exercise(
    "ch08.bpe_encode",
    "bpe_encode(text, merges)",
    "UTF-8 bytes, then every merge applied in its order (merge k → id 256 + k)",
)
def bpe_encode_cases():
    return [
        Case(
            "one merge",
            ("abcab", [(97, 98)]),
            hint="start from list(text.encode('utf-8')) and replace each (97, 98) by 256",
        ),
        Case(
            "merges build on each other",
            ("aaabdaaabac", [(97, 97), (256, 97), (257, 98)]),
            hint="apply the merges in their order: merge 1 uses id 256 made by merge 0, so "
            "merge 0 must run first",
        ),
        Case(
            "a merge the text does not contain",
            ("hello", [(120, 121), (108, 108)]),
            hint="merge k always makes id 256 + k, even when an earlier merge never applied: "
            "(108, 108) → 257",
        ),
        Case(
            "a Chinese character",
            ("天天", [(229, 164), (256, 169)]),
            hint="天 is the three bytes 229 164 169: encode with UTF-8 first, then merge the "
            "byte pairs",
        ),
        Case(
            "no merges: the bytes",
            ("héllo", []),
            hint="with no merges the ids are the UTF-8 bytes (é is two bytes, 195 169)",
        ),
    ]


@exercise(
    "ch08.bpe_decode",
    "bpe_decode(ids, merges)",
    "the bytes of every id, concatenated, decoded as UTF-8 with errors='replace'",
)
def bpe_decode_cases():
    return [
        Case(
            "bytes only",
            ([104, 105, 33], []),
            hint="ids below 256 are bytes: bytes([104, 105, 33]).decode('utf-8') == 'hi!'",
        ),
        Case(
            "a merged id",
            ([256, 99], [(97, 98)]),
            hint="id 256 + k stands for the bytes of merge k's two ids, concatenated: 256 → b'ab'",
        ),
        Case(
            "merges of merges",
            ([257, 32, 256], [(97, 97), (256, 98)]),
            hint="build the bytes of every id in merge order: bytes[257] = bytes[256] + "
            "bytes[98] = b'aab'",
        ),
        Case(
            "a Chinese character over two tokens",
            ([256, 169], [(229, 164)]),
            hint="join ALL the bytes first and decode once: decoding each token alone splits "
            "天's three bytes",
        ),
        Case(
            "a cut inside a character gives U+FFFD",
            ([104, 256], [(229, 164)]),
            hint="b'h\\xe5\\xa4' ends in the middle of a character: decode with "
            "errors='replace' (→ '\\ufffd'), "
            "never raise",
        ),
    ]

"""Chapter 8: the classic mistakes of a BPE written by hand, each of which the public cases must
catch, and correct variants written differently."""

from collections import Counter

from solutions.ch08 import merge_pair, most_frequent_pair


# --- most_frequent_pair
def mfp_single_ids(ids):  # counts ids, not pairs
    best = Counter(ids).most_common(1)[0][0]
    return (best, best)


def mfp_sorted_pair(ids):  # treats (a, b) and (b, a) as one pair
    counts = Counter(tuple(sorted(p)) for p in zip(ids, ids[1:]))
    return max(counts, key=counts.get)


def mfp_skips_overlaps(ids):  # counts the way merging goes, without overlap
    counts, i = Counter(), 0
    while i < len(ids) - 1:
        pair = (ids[i], ids[i + 1])
        counts[pair] += 1
        i += 2 if pair[0] == pair[1] else 1
    return max(counts, key=counts.get)


def mfp_smallest_tie(ids):  # ties → the smallest pair
    counts = Counter(zip(ids, ids[1:]))
    return max(sorted(counts), key=counts.get)


def mfp_last_tie(ids):  # ties → the pair seen last
    counts = Counter(zip(ids, ids[1:]))
    return max(reversed(list(counts)), key=counts.get)


# --- merge_pair
def merge_overlapping(ids, pair, new_id):  # [1, 1, 1] → [new, new]
    out = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
        elif not (i > 0 and (ids[i - 1], ids[i]) == tuple(pair)):
            out.append(ids[i])
    return out


def merge_misses_last(ids, pair, new_id):  # stops one id early
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == tuple(pair) and i + 2 < len(ids):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out + list(ids[i:])


def merge_either_order(ids, pair, new_id):  # (b, a) merged too
    out, i = [], 0
    while i < len(ids):
        if (
            i + 1 < len(ids)
            and {ids[i], ids[i + 1]} == set(pair)
            and (ids[i] != ids[i + 1] or pair[0] == pair[1])
        ):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def merge_only_first(ids, pair, new_id):  # replaces the first occurrence only
    ids = list(ids)
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == tuple(pair):
            return ids[:i] + [new_id] + ids[i + 2 :]
    return ids


# --- bpe_train
def train_ids_from_zero(text, num_merges):  # new ids 0, 1, … collide with the bytes
    ids, merges = list(text.encode("utf-8")), []
    for k in range(num_merges):
        if len(ids) < 2:
            break
        pair = most_frequent_pair(ids)
        ids = merge_pair(ids, pair, k)
        merges.append(pair)
    return merges


def train_no_recount(text, num_merges):  # ranks the pairs once, on the original bytes
    ids = list(text.encode("utf-8"))
    ranked = [p for p, _ in Counter(zip(ids, ids[1:])).most_common()]
    return ranked[:num_merges]


def train_characters(text, num_merges):  # code points instead of UTF-8 bytes
    ids, merges = [ord(c) for c in text], []
    for k in range(num_merges):
        if len(ids) < 2:
            break
        pair = most_frequent_pair(ids)
        ids = merge_pair(ids, pair, 256 + k)
        merges.append(pair)
    return merges


def train_no_early_stop(text, num_merges):  # raises once fewer than 2 ids remain
    ids, merges = list(text.encode("utf-8")), []
    for k in range(num_merges):
        pair = most_frequent_pair(ids)
        ids = merge_pair(ids, pair, 256 + k)
        merges.append(pair)
    return merges


# --- bpe_encode
def encode_skips_missing(text, merges):  # numbers only the merges that applied
    ids, new = list(text.encode("utf-8")), 256
    for pair in merges:
        merged = merge_pair(ids, pair, new)
        if merged != ids:
            ids, new = merged, new + 1
    return ids


def encode_reversed(text, merges):  # last merge first
    ids = list(text.encode("utf-8"))
    for k in reversed(range(len(merges))):
        ids = merge_pair(ids, merges[k], 256 + k)
    return ids


def encode_characters(text, merges):  # code points instead of UTF-8 bytes
    ids = [ord(c) for c in text]
    for k, pair in enumerate(merges):
        ids = merge_pair(ids, pair, 256 + k)
    return ids


def encode_one_pass(text, merges):  # merges of merges never apply: each merge sees only the bytes
    byte_ids = list(text.encode("utf-8"))
    ids = byte_ids
    for k, pair in enumerate(merges):
        if max(pair) < 256:
            ids = merge_pair(ids, pair, 256 + k)
    return ids


# --- bpe_decode
def _vocab(merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for k, (a, b) in enumerate(merges):
        vocab[256 + k] = vocab[a] + vocab[b]
    return vocab


def decode_strict(ids, merges):  # raises on a cut character
    return b"".join(_vocab(merges)[i] for i in ids).decode("utf-8")


def decode_per_token(ids, merges):  # decodes each token alone
    vocab = _vocab(merges)
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def decode_ignore(ids, merges):  # drops a cut character silently
    return b"".join(_vocab(merges)[i] for i in ids).decode("utf-8", errors="ignore")


def decode_chr(ids, merges):  # one character per id below 256
    vocab = _vocab(merges)
    return "".join(chr(i) if i < 256 else vocab[i].decode("utf-8", errors="replace") for i in ids)


def decode_latin1(ids, merges):  # the wrong codec
    return b"".join(_vocab(merges)[i] for i in ids).decode("latin-1")


MUTANTS = {
    "ch08.most_frequent_pair": [
        mfp_single_ids,
        mfp_sorted_pair,
        mfp_skips_overlaps,
        mfp_smallest_tie,
        mfp_last_tie,
    ],
    "ch08.merge_pair": [merge_overlapping, merge_misses_last, merge_either_order, merge_only_first],
    "ch08.bpe_train": [
        train_ids_from_zero,
        train_no_recount,
        train_characters,
        train_no_early_stop,
    ],
    "ch08.bpe_encode": [encode_skips_missing, encode_reversed, encode_characters, encode_one_pass],
    "ch08.bpe_decode": [decode_strict, decode_per_token, decode_ignore, decode_chr, decode_latin1],
}


# --- correct, written differently
def mfp_counter(ids):
    ids = [int(i) for i in ids]
    if len(ids) < 2:
        raise ValueError("need at least two ids")
    counts = Counter(zip(ids, ids[1:]))
    # Counter keeps first-seen order; max returns the first largest
    return max(counts, key=counts.__getitem__)


def merge_pair_recursive(ids, pair, new_id):
    ids = list(ids)
    if len(ids) < 2:
        return ids
    if (ids[0], ids[1]) == tuple(pair):
        return [new_id] + merge_pair_recursive(ids[2:], pair, new_id)
    return [ids[0]] + merge_pair_recursive(ids[1:], pair, new_id)


def bpe_train_with_tinyllm(text, num_merges):
    from tinyllm.bpe import train_bpe

    ids = list(text.encode("utf-8"))
    limit = 0
    # how many merges the text allows before one id remains
    while limit < num_merges and len(ids) >= 2:
        ids = merge_pair(ids, most_frequent_pair(ids), 256 + limit)
        limit += 1
    return train_bpe(text, 256 + limit, pattern=None).merges if text and limit else []


def bpe_encode_with_tinyllm(text, merges):
    from tinyllm.bpe import BPETokenizer

    return BPETokenizer(merges, pattern=None).encode(text).tolist()


def bpe_decode_with_tinyllm(ids, merges):
    from tinyllm.bpe import BPETokenizer

    return BPETokenizer(merges, pattern=None).decode(list(ids))


ALTERNATIVES = {
    "ch08.most_frequent_pair": [mfp_counter],
    "ch08.merge_pair": [merge_pair_recursive],
    "ch08.bpe_train": [bpe_train_with_tinyllm],
    "ch08.bpe_encode": [bpe_encode_with_tinyllm],
    "ch08.bpe_decode": [bpe_decode_with_tinyllm],
}

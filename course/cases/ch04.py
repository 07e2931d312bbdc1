"""Chapter 4 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise


def _normal(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


@exercise("ch04.causal_mask", "causal_mask(n)", "(n,n) bool, True where query i may attend to key j (j ≤ i)")
def causal_mask_cases():
    return [
        Case("n = 1: a token sees itself", (1,), hint="the diagonal is included: query i may attend to key i"),
        Case("n = 3", (3,),
             hint="row i is the query, column j the key: True for j ≤ i (the lower triangle with the diagonal); "
                  "True means 'may attend', so do not invert it"),
        Case("n = 6", (6,), hint="shape (n, n); np.tril(np.ones((n, n), bool)) keeps the diagonal (k=0), k=-1 drops it"),
    ]


@exercise("ch04.scaled_dot_product_attention", "scaled_dot_product_attention(q, k, v, mask=None)",
          "softmax(QKᵀ/√dk)V over keys, with a True=attend mask; returns (output, weights)", rtol=1e-4, atol=1e-6)
def scaled_dot_product_attention_cases():
    q, k, v = _normal(1, 2, 3), _normal(2, 4, 3), _normal(3, 4, 2)
    qb, kb, vb = _normal(4, 2, 3, 4), _normal(5, 2, 3, 4), _normal(6, 2, 3, 5)
    causal = np.tril(np.ones((3, 3), bool))
    padding = np.array([[[True, True, False]], [[True, True, True]]])  # (b, 1, tk): key 2 of sample 0 is padding
    # logits of several thousand: e^s overflows float32 and float64 unless the row maximum is subtracted first
    q_big = np.array([[100.0, 0.0], [0.0, 100.0]], np.float32)
    k_big = np.array([[100.0, 0.0], [0.0, 100.0], [100.0, 0.0]], np.float32)
    v_big = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    return [
        Case("2 queries, 4 keys, d_k = 3, d_v = 2", (q, k, v),
             hint="scores = q @ kᵀ / √d_k with d_k = q.shape[-1] (not d_v); softmax over the keys, the last axis; "
                  "return (weights @ v, weights)"),
        Case("a batch: q, k, v of shape (2, 3, 4), (2, 3, 4), (2, 3, 5)", (qb, kb, vb),
             hint="transpose only the last two axes of k (np.swapaxes(k, -1, -2)); .T reverses every axis"),
        Case("causal mask", (qb, kb, vb, causal),
             hint="True = may attend: set the scores where the mask is False to -inf (or a huge negative) "
                  "before the softmax, not after, and do not multiply the scores by the mask"),
        Case("padding mask of shape (b, 1, tk) broadcasts over queries", (qb, kb, vb, padding),
             hint="the mask broadcasts against scores (b, tq, tk); padded keys get weight 0 for every query"),
        Case("huge logits stay finite", (q_big, k_big, v_big),
             hint="subtract each row's maximum score before exp: e^7071 overflows to inf and inf/inf is NaN"),
    ]


@exercise("ch04.sinusoidal_positional_encoding", "sinusoidal_positional_encoding(length, depth)",
          "(length, depth) float32; column 2i sin(pos/10000^(2i/depth)), column 2i+1 cos of the same angle",
          rtol=1e-4, atol=1e-5)
def sinusoidal_positional_encoding_cases():
    return [
        Case("length 4, depth 2", (4, 2),
             hint="column 0 is sin(pos), column 1 cos(pos): position 0 gives [0, 1]; positions start at 0"),
        Case("length 5, depth 8", (5, 8),
             hint="columns 2i and 2i+1 share one angle pos / 10000^(2i/depth): use the even index 2i for both, "
                  "sin in even columns, cos in odd ones (interleaved, not [all sin | all cos])"),
        Case("length 50, depth 16", (50, 16),
             hint="the base is 10000 and the exponent 2i/depth lies in [0, 1): slow waves in the last columns"),
    ]


@exercise("ch04.multi_head_self_attention", "multi_head_self_attention(x, wq, wk, wv, wo, num_heads, mask=None)",
          "x (b,t,d); heads = contiguous slices of x·wq etc.; softmax(QKᵀ/√dh)V per head, concatenated, times wo",
          rtol=1e-4, atol=1e-5)
def multi_head_self_attention_cases():
    x = _normal(10, 2, 4, 6)
    w = [_normal(11 + i, 6, 6, scale=0.5) for i in range(4)]
    causal = np.tril(np.ones((4, 4), bool))
    padding = np.ones((2, 4, 4), bool)
    padding[0, :, 3] = False  # the last token of sample 0 is padding
    return [
        Case("one head is plain attention then wo", (x, *w, 1),
             hint="q = x @ wq, k = x @ wk, v = x @ wv; softmax(q kᵀ / √d_head) v, then @ wo"),
        Case("two heads", (x, *w, 2),
             hint="split the last axis into (num_heads, d_head) contiguous parts: reshape (b, t, h, dh) then "
                  "transpose to (b, h, t, dh); scale by √d_head = √(d/h), not √d"),
        Case("three heads with a causal mask", (x, *w, 3, causal),
             hint="merge the heads back with the inverse transpose (b, h, t, dh) → (b, t, h, dh) → (b, t, d) "
                  "before multiplying by wo; the mask (t, t) applies to every head"),
        Case("two heads with a (b, t, t) padding mask", (x, *w, 2, padding),
             hint="a (b, t, t) mask needs a head axis to broadcast against scores (b, h, t, t): mask[:, None]"),
    ]

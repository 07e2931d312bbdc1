"""Chapter 4 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise


def _normal(seed, *shape, scale=1.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(np.float32)


@exercise(
    "ch04.causal_mask",
    "causal_mask(n)",
    "(n,n) bool, True where query i may attend to key j (j ≤ i)",
)
def causal_mask_cases():
    return [
        Case(
            "n = 1: a token sees itself",
            (1,),
            hint="the diagonal is included: query i may attend to key i",
        ),
        Case(
            "n = 3",
            (3,),
            hint="row i is the query, column j the key: True for j ≤ i (the lower triangle "
            "with the diagonal); "
            "True means 'may attend', so do not invert it",
        ),
        Case(
            "n = 6",
            (6,),
            hint="shape (n, n); np.tril(np.ones((n, n), bool)) keeps the diagonal (k=0), k=-1 "
            "drops it",
        ),
    ]


@exercise(
    "ch04.scaled_dot_product_attention",
    "scaled_dot_product_attention(q, k, v, mask=None)",
    "softmax(QKᵀ/√dk)V over keys, with a True=attend mask; returns (output, weights)",
    rtol=1e-4,
    atol=1e-6,
)
def scaled_dot_product_attention_cases():
    q, k, v = _normal(1, 2, 3), _normal(2, 4, 3), _normal(3, 4, 2)
    qb, kb, vb = _normal(4, 2, 3, 4), _normal(5, 2, 3, 4), _normal(6, 2, 3, 5)
    causal = np.tril(np.ones((3, 3), bool))
    # (b, 1, tk): key 2 of sample 0 is padding
    padding = np.array([[[True, True, False]], [[True, True, True]]])
    # logits of several thousand: e^s overflows float32 and float64 unless the row maximum is
    # subtracted first
    q_big = np.array([[100.0, 0.0], [0.0, 100.0]], np.float32)
    k_big = np.array([[100.0, 0.0], [0.0, 100.0], [100.0, 0.0]], np.float32)
    v_big = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    return [
        Case(
            "2 queries, 4 keys, d_k = 3, d_v = 2",
            (q, k, v),
            hint="scores = q @ kᵀ / √d_k with d_k = q.shape[-1] (not d_v); softmax over the "
            "keys, the last axis; "
            "return (weights @ v, weights)",
        ),
        Case(
            "a batch: q, k, v of shape (2, 3, 4), (2, 3, 4), (2, 3, 5)",
            (qb, kb, vb),
            hint="transpose only the last two axes of k (np.swapaxes(k, -1, -2)); .T reverses "
            "every axis",
        ),
        Case(
            "causal mask",
            (qb, kb, vb, causal),
            hint="True = may attend: set the scores where the mask is False to -inf (or a "
            "huge negative) "
            "before the softmax, not after, and do not multiply the scores by the mask",
        ),
        Case(
            "padding mask of shape (b, 1, tk) broadcasts over queries",
            (qb, kb, vb, padding),
            hint="the mask broadcasts against scores (b, tq, tk); padded keys get weight 0 "
            "for every query",
        ),
        Case(
            "huge logits stay finite",
            (q_big, k_big, v_big),
            hint="subtract each row's maximum score before exp: e^7071 overflows to inf and "
            "inf/inf is NaN",
        ),
    ]


@exercise(
    "ch04.sinusoidal_positional_encoding",
    "sinusoidal_positional_encoding(length, depth)",
    "(length, depth) float32; column 2i sin(pos/10000^(2i/depth)), column 2i+1 cos of the same "
    "angle",
    rtol=1e-4,
    atol=1e-5,
)
def sinusoidal_positional_encoding_cases():
    return [
        Case(
            "length 4, depth 2",
            (4, 2),
            hint="column 0 is sin(pos), column 1 cos(pos): position 0 gives [0, 1]; positions "
            "start at 0",
        ),
        Case(
            "length 5, depth 8",
            (5, 8),
            hint="columns 2i and 2i+1 share one angle pos / 10000^(2i/depth): use the even "
            "index 2i for both, "
            "sin in even columns, cos in odd ones (interleaved, not [all sin | all cos])",
        ),
        Case(
            "length 50, depth 16",
            (50, 16),
            hint="the base is 10000 and the exponent 2i/depth lies in [0, 1): slow waves in "
            "the last columns",
        ),
    ]


@exercise(
    "ch04.multi_head_self_attention",
    "multi_head_self_attention(x, wq, wk, wv, wo, num_heads, mask=None)",
    "x (b,t,d); heads = contiguous slices of x·wq etc.; softmax(QKᵀ/√dh)V per head, concatenated, "
    "times wo",
    rtol=1e-4,
    atol=1e-5,
)
def multi_head_self_attention_cases():
    x = _normal(10, 2, 4, 6)
    w = [_normal(11 + i, 6, 6, scale=0.5) for i in range(4)]
    causal = np.tril(np.ones((4, 4), bool))
    padding = np.ones((2, 4, 4), bool)
    padding[0, :, 3] = False  # the last token of sample 0 is padding
    return [
        Case(
            "one head is plain attention then wo",
            (x, *w, 1),
            hint="q = x @ wq, k = x @ wk, v = x @ wv; softmax(q kᵀ / √d_head) v, then @ wo",
        ),
        Case(
            "two heads",
            (x, *w, 2),
            hint="split the last axis into (num_heads, d_head) contiguous parts: reshape (b, "
            "t, h, dh) then "
            "transpose to (b, h, t, dh); scale by √d_head = √(d/h), not √d",
        ),
        Case(
            "three heads with a causal mask",
            (x, *w, 3, causal),
            hint="merge the heads back with the inverse transpose (b, h, t, dh) → (b, t, h, "
            "dh) → (b, t, d) "
            "before multiplying by wo; the mask (t, t) applies to every head",
        ),
        Case(
            "two heads with a (b, t, t) padding mask",
            (x, *w, 2, padding),
            hint="a (b, t, t) mask needs a head axis to broadcast against scores (b, h, t, "
            "t): mask[:, None]",
        ),
    ]


def _tokens(seed, b, t, d, std):
    """x (b, t, d) float32 whose every token has spread exactly ``std`` about a random mean of its
    own."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(b, t, d))
    x = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)
    return (x * std + rng.normal(size=(b, t, 1)) * std).astype(np.float32)


def _block_params(seed, d, m, plain=False, mlp_scale=0.15, mlp_shift=0.0, w2_scale=2.0):
    """Weights of one Transformer block, by the names of ch04.transformer_block, float32.

    ``plain``: layer norms γ = 1, β = 0 and every bias zero; otherwise γ, β and the biases are far
    from 1, 0, 0, so that forgetting any of them shows. The MLP's pre-activations z = LN₂(h)·w1 + b1
    are about ``mlp_shift`` ± ``mlp_scale``: near 0 ± 0.15 the exact and the tanh GELU agree to
    1e-6; near −3 they differ by 4e-4 while gelu(z) itself is only about −0.004.
    """
    rng = np.random.default_rng(seed)
    normal = lambda *shape, scale=1.0: (rng.normal(size=shape) * scale).astype(np.float32)  # noqa: E731
    params = {}
    for name in ("ln1", "ln2"):
        params[name + "_gamma"] = np.ones(d, np.float32) if plain else 1.0 + normal(d, scale=0.4)
        params[name + "_beta"] = np.zeros(d, np.float32) if plain else normal(d, scale=0.4)
    for name in "qkvo":
        params["w" + name] = normal(d, d, scale=1.0 / np.sqrt(d))
        params["b" + name] = np.zeros(d, np.float32) if plain else normal(d, scale=0.5)
    params["w1"] = normal(d, m, scale=mlp_scale / np.sqrt(d))
    params["b1"] = (
        np.zeros(m, np.float32)
        if plain
        else (mlp_shift + normal(m, scale=mlp_scale / 2)).astype(np.float32)
    )
    params["w2"] = normal(m, d, scale=w2_scale / np.sqrt(m))
    params["b2"] = np.zeros(d, np.float32) if plain else normal(d, scale=0.5)
    return params


# The tolerances sit between a correct answer and the two near misses. Measured as the largest
# |got − expected| / (atol + rtol·|expected|) over a case (1 = the edge): a float32 answer
# 0.003–0.007 (NumPy or Keras ops), the tanh GELU ≤ 0.07 before "the exact GELU" and 38 there, ε =
# 1e-3 ≤ 0.2 before "ε = 1e-5" and 1.5e3 there. Tokens spread ±8 keep ε out of the first five cases.
@exercise(
    "ch04.transformer_block",
    "transformer_block(x, params, num_heads, causal=False)",
    "pre-layer-norm block: h = x + MHA(LN₁(x)), out = h + gelu(LN₂(h)·w1 + b1)·w2 + b2; LN ε = "
    "1e-5, "
    "exact GELU",
    rtol=1e-4,
    atol=1e-4,
)
def transformer_block_cases():
    d = 8
    return [
        Case(
            "one head, bidirectional (causal=False), plain layer norms and no biases",
            (_tokens(20, 2, 4, d, 8.0), _block_params(21, d, 16, plain=True), 1),
            hint="pre-norm: h = x + MHA(LN₁(x)), then out = h + MLP(LN₂(h)) with MLP(z) = "
            "gelu(z·w1 + b1)·w2 + b2. "
            "Normalise *before* each sub-layer (post-norm, LN(x + MHA(x)), is the 2017 "
            "arrangement), and add "
            "each sub-layer's output to its un-normalised input (both residuals: x + …, then h + "
            "…). "
            "Layer norm: mean and biased variance (np.var, ddof=0) over the last axis. "
            "causal=False: no mask",
        ),
        Case(
            "one head with biases and layer-norm scales γ, β",
            (_tokens(22, 2, 4, d, 8.0), _block_params(23, d, 16), 1),
            hint="add every bias: q = LN₁(x)·wq + bq (likewise k, v), then ·wo + bo; the MLP "
            "adds b1 and b2. "
            "LN(y) = (y − mean)/√(var + ε)·γ + β, and LN₁, LN₂ each have their own γ, β (ln1_*, "
            "ln2_*)",
        ),
        Case(
            "two heads: d_head = d / h = 4",
            (_tokens(24, 2, 5, d, 8.0), _block_params(25, d, 32), 2),
            hint="split q, k, v (biases added) into h contiguous slices of d_head = d/h "
            "columns, as in "
            "multi_head_self_attention; scale the scores by √d_head = √(d/h), not √d; merge the "
            "heads back to "
            "(b, t, d) before ·wo",
        ),
        Case(
            "four heads, causal=True",
            (_tokens(26, 2, 5, d, 8.0), _block_params(27, d, 32), 4),
            {"causal": True},
            hint="causal=True: before the softmax, set the scores of keys j > i (the future) "
            "to -inf in every "
            "head; np.tril(np.ones((t, t), bool)) is True where query i may attend to key j",
        ),
        Case(
            "MLP pre-activations near −3: the exact GELU",
            (
                _tokens(28, 2, 3, d, 8.0),
                _block_params(29, d, 32, mlp_scale=0.7, mlp_shift=-3.0, w2_scale=30.0),
                2,
            ),
            hint="gelu(z) = 0.5·z·(1 + erf(z/√2)), the exact GELU (Keras's default), not the "
            "tanh approximation "
            "0.5·z·(1 + tanh(√(2/π)(z + 0.044715z³))): near z = −3 it is off by 4e-4 while gelu(z) "
            "is only "
            "−0.004. math.erf takes one number: np.vectorize(math.erf) applies it elementwise",
        ),
        Case(
            "small activations (std 0.05): ε = 1e-5",
            (_tokens(30, 2, 4, d, 0.05), _block_params(31, d, 32), 2, True),
            hint="layer norm's ε is 1e-5 (GPT-2's, and the chapter's block), not Keras's "
            "default 1e-3; it goes "
            "inside the square root, √(var + ε): with a variance near 1e-3 the two differ a lot",
        ),
    ]

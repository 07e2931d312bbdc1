"""Chapter 7 notebook, executed once inside the student edition with every exercise answered:
every check passes, the outputs equal the committed ones, and the printed results lie in their
bands.

Timings come from tinyllm.timing (interleaved rounds, medians, per-round ratios); the bands are on
those ratios, measured twice on a shared 2-core Intel Xeon under a load average of 5-9, and wide
enough for noise: identical computations within 0.67-1.6x, claimed differences well beyond that.

Bands were measured on the shared 2-core machine (values in comments) and are set wide enough for
any CPU, narrow enough to fail if the lesson's claim breaks. Timings are only asserted as ratios
with a wide margin, since the lesson's claims about speed are about shape, not milliseconds.
"""

import numpy as np
import pytest
from notebooks import (  # noqa: F401 - the tests every chapter shares
    test_every_check_passes,
    test_outputs_equal_the_committed_notebook,
    test_runs_inside_the_edition_without_solutions,
)

CHAPTER = "ch07"
VARIABLES = (
    "teacher_loss",
    "entropy_rate",
    "bigram",
    "teacher_params",
    "student_params",
    "kv_max_difference",
    "kv_same_tokens",
    "kv_speedup_full_context",
    "recompute_ms",
    "cached_ms",
    "distiller_difference",
    "t_squared_spread",
    "kl_only_spread",
    "hard_loss",
    "distilled_loss",
    "int8_mismatches",
    "scale_relative_difference",
    "int8_loss",
    "int8_size_ratio",
    "int4_fake_loss",
    "broken_tied_loss",
    "keras_loss",
    "keras_bytes",
    "SPARSITIES",
    "pruned_loss",
    "fine_tuned_loss",
    "actual_sparsity",
    "dense_bytes",
    "sparse_bytes",
    "timings",
    "summary",
    "teacher_top_mass",
    "per_tensor",
    "cached_tokens_per_second",
    "recompute_tokens_per_second",
    "[kv_verdicts[t].ratio for t in lengths]",
    "[prefill_verdicts[t].ratio for t in prefill_lengths]",
    "{name: c.ratio for name, c in speed_verdicts.items()}",
    "[c.ratio for c in sparse_verdicts]",
)

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def by_number(mapping):
    """A dict read back from the kernel, keyed by sparsity: its keys arrive as text."""
    return {float(key): value for key, value in mapping.items()}


def test_the_pretrained_teacher_is_close_to_the_entropy_rate(r):
    # measured: 0.188 nats/char on 16k validation characters, entropy rate 0.158, bigram 1.883
    assert r["entropy_rate"] - 0.01 < r["teacher_loss"] < r["entropy_rate"] + 0.06
    # by hand: chapter 5's formula
    assert r["teacher_params"] == 362_976 and r["student_params"] == 139_296


def test_kv_cache_equals_recomputation_and_pays_off_at_full_context(r):
    # measured: max |Δlogit| 1.7e-5 on logits up to 15 (float32 sums in another order)
    assert r["kv_max_difference"] < 1e-3
    assert r["kv_same_tokens"] is True  # 200 greedy and 200 sampled tokens
    # medians of 5 interleaved rounds; measured 6.4x at t = 255 on a 2-core Xeon under a load
    # average of 8 (3.1-3.8x in earlier single timings); recomputing grows with t while the cached
    # step stays flat
    assert r["kv_speedup_full_context"] > 1.5
    assert r["recompute_ms"][-1] > 2 * r["recompute_ms"][0]
    ratios = r["[kv_verdicts[t].ratio for t in lengths]"]  # cached / recompute time, t = 8 … 255
    # the page says the cache buys little or nothing at t = 8: measured 1.14, 1.12 and 0.97
    # (cached / recompute time); a cache 1.4x faster there would contradict it
    assert ratios[0] > 0.7 and ratios[-1] < 0.5
    # prefill is the same forward pass, so the cache cannot shorten the time to the first token:
    # measured prefill / plain time 0.88-1.13 at 8, 128 and 255 tokens over two runs
    # (same-computation band, as below)
    assert all(ratio > 0.67 for ratio in r["[prefill_verdicts[t].ratio for t in prefill_lengths]"])
    # whole generation of 240 tokens: measured 3.1x and 1.8x with the cache (medians of 3
    # interleaved runs)
    assert r["cached_tokens_per_second"] > 1.2 * r["recompute_tokens_per_second"]


def test_keras_logits_distillation_and_t_squared_keeps_gradients_within_a_small_factor(r):
    # the answer against Keras's LogitsDistillation at T = 4
    assert r["distiller_difference"] < 1e-4
    # measured: the KL's gradient alone spans 294x from T = 1 to 16, times T² only 2.3x
    assert r["kl_only_spread"] > 50 and r["t_squared_spread"] < 4


def test_the_teacher_is_sharp_even_softened(r):
    # measured: the most likely character holds 0.92 of the mass on average at T = 1, 0.86 at T = 2
    top = {float(k): v for k, v in r["teacher_top_mass"].items()}
    assert top[1.0][0] > 0.8 and top[2.0][0] > 0.7 and top[2.0][0] < top[1.0][0]


def test_distilled_student_beats_the_hard_label_student_at_equal_budget(r):
    # measured: hard labels 0.279, distilled 0.264 nats/char after 150 steps of 32 windows, same
    # start
    assert r["distilled_loss"] < r["hard_loss"] - 0.003
    # a one-block student stays above its teacher
    assert r["teacher_loss"] < r["distilled_loss"] < 0.45


def test_int8_is_keras_int8_and_nearly_free(r):
    assert r["int8_mismatches"] == 0  # the same integers as Keras's Dense kernel
    # reciprocal scale, measured 7.7e-7 (Keras's 1e-7 epsilon)
    assert r["scale_relative_difference"] < 1e-5
    # measured: 3.64x smaller (402,150 of 1,463,260 bytes) for +0.0001 nats/char
    assert r["int8_size_ratio"] >= 3.5
    assert abs(r["int8_loss"] - r["teacher_loss"]) < 0.01
    assert abs(r["keras_loss"]["int8"] - r["teacher_loss"]) < 0.01  # measured −0.0001
    # measured: int4 +0.049 (ours, embeddings included), +0.005 (Keras, Dense layers): still far
    # below bigram
    assert r["int4_fake_loss"] < r["bigram"] / 2 and r["keras_loss"]["int4"] < r["bigram"] / 2
    assert r["keras_bytes"]["int4"] < r["keras_bytes"]["int8"] < r["keras_bytes"]["float32"] / 2.5
    # one scale per matrix instead of per channel: measured +0.0001 at int8, +0.384 at int4 (per
    # channel +0.049)
    per_tensor = {int(k): v for k, v in r["per_tensor"].items()}
    assert per_tensor[8] - r["teacher_loss"] < 0.01
    assert per_tensor[4] > r["int4_fake_loss"] + 0.1


def test_quantizing_the_tied_embedding_breaks_the_model(r):
    # measured 60.4 nats/char: the head multiplies by raw int8 integers
    assert r["broken_tied_loss"] > 10


def test_pruning_curve_is_monotone_within_noise_and_fine_tuning_helps(r):
    losses = np.array(r["pruned_loss"])
    assert abs(losses[0] - r["teacher_loss"]) < 1e-6
    assert np.all(np.diff(losses) > -0.005)  # measured strictly increasing, 0.188 → 5.4 at 90 %
    # 20 % of the block weights go for almost nothing (0.190)
    assert losses[2] < r["teacher_loss"] + 0.01
    assert losses[-1] > 1.0  # 90 % destroys it
    for sparsity, loss in by_number(
        r["fine_tuned_loss"]
    ).items():  # never worse than before the fine-tune
        assert loss <= losses[r["SPARSITIES"].index(sparsity)] + 0.005
    # the masks held through the last fine-tune (90 %): the mean over the 12 kernels of each one's
    # share of zeros, measured 0.889 (global pruning takes more from some kernels); regrown weights
    # would leave ~0
    assert 0.8 < r["actual_sparsity"] < 0.95


def test_zeros_shrink_the_compressed_file_not_the_dense_matmul(r):
    sparse_bytes = by_number(r["sparse_bytes"])
    sizes = [sparse_bytes[s] for s in sorted(sparse_bytes)]
    # measured 4.6x at 90 %
    assert all(b < a for a, b in zip(sizes, sizes[1:])) and sizes[-1] < r["dense_bytes"] / 3
    timings = by_number(r["timings"])
    dense_0, dense_90 = timings[0.0][0], timings[0.9][0]
    # a dense kernel is not 10x faster at 90 % zeros (measured 0.83 vs 0.83 ms)
    assert dense_90 > dense_0 / 3
    dense_ratio, sparse_ratio = r["[c.ratio for c in sparse_verdicts]"]
    assert 0.67 < dense_ratio < 1.6  # the same computation: measured 1.09 and 1.25 under load
    # TensorFlow's sparse matmul is slower than dense even at 90 %: measured 2.7x, 3.2x
    assert sparse_ratio > 1.2


def test_summary_has_every_variant(r):
    assert len(r["summary"]) == 8
    smallest = min(r["summary"].items(), key=lambda item: item[1][1])
    assert "distilled + int8" in smallest[0]  # measured 154,710 bytes, loss 0.265


def test_speed_table_says_no_more_than_its_spread(r):
    # variant time / the teacher's, medians
    ratios = r["{name: c.ratio for name, c in speed_verdicts.items()}"]
    # the same float32 graph as the teacher: measured 0.95 and 1.07 (our int8), 0.96 and 0.89
    # (pruned) under load
    same_graph = ["teacher int8 (ours, weights only)"] + [
        name for name in ratios if "pruned" in name
    ]
    assert len(same_graph) == 2
    for name in same_graph:
        assert 0.67 < ratios[name] < 1.5, name
    # a one-block student is far from 3x faster (launch overhead dominates): measured 0.61-0.92
    assert all(0.4 < ratios[name] < 1.1 for name in ratios if name.startswith("student"))
    # Keras's int4 is slower and its int8 no faster: measured 1.83 / 1.68 and 1.14 / 1.12
    assert ratios["teacher int4 (Keras, Dense layers)"] > 1.2
    assert ratios["teacher int8 (Keras, Dense layers)"] > 0.8

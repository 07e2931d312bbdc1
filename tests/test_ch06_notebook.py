"""Chapter 6 notebook, executed once inside the student edition with every exercise answered:
every check passes, the outputs equal the committed ones, and the printed results lie in their
bands.

Bands were measured on the shared, loaded 2-core machine (values in comments). The copy rules are
plain Python on fixed text, so their numbers are exact; the trained arms load the weights that
data/finetuned/make_finetuned.py shipped, so their scores move only with another CPU's float
rounding in decoding; the live run trains here, and its bands are wide.
"""

import pytest
from notebooks import (  # noqa: F401 - the tests every chapter shares
    test_every_check_passes,
    test_outputs_equal_the_committed_notebook,
    test_runs_inside_the_edition_without_solutions,
)

CHAPTER = "ch06"
VARIABLES = (
    "scores",
    "counts",
    "lora_share",
    "pretraining_loss",
    "forgetting_full",
    "forgetting_lora",
    "decoders_agree",
    "exact_match_agrees",
    "padding_effect",
    "masked_loss_difference",
    "lora_layer_difference",
    "response_share",
    "loss_on_story",
    "loss_on_summary",
    "test_in_corpus",
    "curve_points",
    "decoded_exact.tolist()",
    "hub_rouge_difference",
    "copy_misses",
    "live_curve",
    "merge_difference",
    "merged_same_output",
    "adapter_effect",
    "lora_scale",
    "seed_scores",
    "bigram_loss",
    "learning_rates",
    "best_copy",
    "pair_scores",
    "paired",
    "exact_by_kind",
)

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

A, B, C, D, E = (
    "(a) full fine-tuning",
    "(b) from random weights",
    "(c) LoRA",
    "(d) prompted",
    "(e) unmasked prompt",
)
COPY_PLACE, COPY_EVENTS = "copy: hero and place", "copy: hero, place, event words"


def test_test_stories_are_new_and_the_prompt_is_masked(r):
    assert r["test_in_corpus"] == 0
    assert 0.15 < r["response_share"] < 0.25  # measured 19 %: the summary is a fifth of the targets
    # causal attention: padding after the end cannot reach a real position
    assert r["padding_effect"] == 0.0
    # measured 0.2 nats/char on the story (close to pre-training's 0.19) vs 3.30 on the unseen
    # summary
    assert r["loss_on_story"] < 0.5 and r["loss_on_summary"] > 2.0


def test_masked_loss_and_lora_layer_equal_keras(r):
    assert r["masked_loss_difference"] < 1e-4  # measured 0 to printed precision (3.29817 both)
    assert r["lora_layer_difference"] < 1e-4  # measured 1.4e-06 on outputs of order 1


def test_rouge_l_equals_keras_hub_and_has_an_interval(r):
    # measured: identical means (difference 0 up to float32 rounding of keras-hub's metric) on 40
    # pairs
    assert r["hub_rouge_difference"] < 1e-6
    low, high = r["pair_scores"]["rouge_l_f1_interval"]
    assert low < r["pair_scores"]["rouge_l_f1"] < high


def test_exact_match_without_decoding(r):
    assert r["decoders_agree"] is True and r["exact_match_agrees"] is True
    # both verdicts occur in the sample
    assert 0 < sum(r["decoded_exact.tolist()"]) < len(r["decoded_exact.tolist()"])


def test_copy_rules(r):
    scores = r["scores"]
    # plain Python on the shipped text: exact. measured ROUGE-L F1 0.512 and 0.973, exact match 0
    # and 0.863
    assert scores[COPY_PLACE]["rouge_l_f1"] == pytest.approx(0.5120, abs=5e-4)
    assert scores[COPY_PLACE]["exact_match"] == 0.0
    assert scores[COPY_EVENTS]["rouge_l_f1"] == pytest.approx(0.9727, abs=5e-4)
    assert scores[COPY_EVENTS]["exact_match"] == pytest.approx(259 / 300)
    # it misses only the stories without an event
    assert r["copy_misses"] == {
        "all": 41,
        "nothing": 41,
    }
    for arm in (COPY_PLACE, COPY_EVENTS):
        for key in ("rouge_l_f1", "exact_match"):
            low, high = scores[arm][f"{key}_interval"]
            assert low <= scores[arm][key] <= high and high - low < 0.1


def test_fine_tuned_arms_and_their_baselines(r):
    scores = r["scores"]
    # the shipped weights (5 epochs, 20,000 examples) scored here and by the script: measured
    # ROUGE-L F1 (a) 0.971, (b) 0.940, (c) 0.935, (e) 0.931, (d) prompted 0.079; exact match (a)
    # 0.827, (b) 0.677, (c) 0.657, (e) 0.627, (d) 0. Another CPU's rounding can flip a few greedy
    # argmaxes: bands of ±0.04.
    # the goal, reached
    assert scores[A]["rouge_l_f1"] >= 0.95 and 0.80 <= scores[A]["exact_match"] < 0.87
    assert 0.91 < scores[C]["rouge_l_f1"] < 0.96 and 0.61 < scores[C]["exact_match"] < 0.70
    assert 0.90 < scores[E]["rouge_l_f1"] < 0.96 and 0.58 < scores[E]["exact_match"] < 0.67
    assert 0.91 < scores[B]["rouge_l_f1"] < 0.97 and 0.63 < scores[B]["exact_match"] < 0.72
    assert scores[D]["rouge_l_f1"] < 0.15 and scores[D]["exact_match"] == 0.0

    def apart(upper, lower, key="exact_match"):  # the intervals do not overlap
        return scores[upper][f"{key}_interval"][0] > scores[lower][f"{key}_interval"][1]

    def level(x, y, key="exact_match"):
        (xl, xh), (yl, yh) = scores[x][f"{key}_interval"], scores[y][f"{key}_interval"]
        return xl <= yh and yl <= xh

    # the page's claims: the mask is worth about 20 points (intervals apart); LoRA below full
    # fine-tuning; (b) level with (e), LoRA level with (b) and (e)
    assert apart(A, E) and 0.12 < scores[A]["exact_match"] - scores[E]["exact_match"] < 0.28
    assert apart(A, C) and apart(A, B)
    assert level(B, E) and level(C, B) and level(C, E)
    for arm in (A, B, C, E):
        for key in ("rouge_l_f1", "exact_match"):
            low, high = scores[arm][f"{key}_interval"]
            assert low <= scores[arm][key] <= high and 0.01 < high - low < 0.14  # 300 stories


def test_the_best_arm_matches_the_copy_rule_story_by_story(r):
    paired = r["paired"]
    # measured (a) minus the event-word rule: ROUGE-L −0.002 [−0.014, +0.010], exact match −0.037
    # [−0.097, +0.023]
    for key in ("rouge_l_f1", "exact_match"):
        difference, (low, high) = paired[A][key]
        assert low < 0 < high and low <= difference <= high  # level: the interval holds zero
    for arm in (B, C, E):  # measured −0.19 to −0.24 in exact match, every interval below zero
        for key in ("rouge_l_f1", "exact_match"):
            assert paired[arm][key][1][1] < 0
    kinds = r["exact_by_kind"]
    rule = kinds[COPY_EVENTS]
    assert rule["without an event"] == 0.0 and rule["with events"] == 1.0  # exact: plain Python
    # the model writes every "nothing"; measured 1.00 for every arm
    assert kinds[A]["without an event"] == 1.0
    assert 0.75 < kinds[A]["with events"] < 0.85  # measured 0.80: it misses about one in five


def test_seeds_of_full_fine_tuning_and_lora(r):
    seeds = r["seed_scores"]  # recorded by make_finetuned.py on the test stories
    for arm in (A, C):
        assert len(seeds[arm]["rouge_l_f1"]) == len(seeds[arm]["exact_match"]) == 3
        for key in ("rouge_l_f1", "exact_match"):  # measured standard deviations 0.001-0.005
            assert max(seeds[arm][key]) - min(seeds[arm][key]) < 0.04
    # measured exact match 0.823-0.830 (a) and 0.643-0.657 (c): the ranges far apart, as the page
    # says
    assert min(seeds[A]["exact_match"]) > max(seeds[C]["exact_match"]) + 0.1
    assert min(seeds[A]["rouge_l_f1"]) > max(seeds[C]["rouge_l_f1"])


def test_live_run_learns_on_validation(r):
    curve = r["live_curve"]
    assert [n for n, _, _ in curve] == [320, 640, 960, 1280, 1600]
    # measured validation loss on the summaries 0.76 → 0.35 over 1,600 examples (the pre-trained
    # model: 3.3), above the long run's 0.27 at 2,000 examples (the page says so)
    assert curve[-1][1] < curve[0][1] and 0.25 < curve[-1][1] < 0.5
    assert curve[-1][1] > r["curve_points"][A][0][1]


def test_long_run_curves_are_on_validation(r):
    points = r["curve_points"]  # recorded by make_finetuned.py: exact values of the shipped runs
    for arm in (A, B, C, E):
        assert [n for n, _, _ in points[arm]] == list(range(2000, 20001, 2000))
        assert points[arm][-1][1] < points[arm][0][1]
    at_4000 = {arm: points[arm][1] for arm in (A, B, C, E)}
    # measured at 4,000 examples: pre-trained arms exact match 0.16-0.19, loss 0.21-0.23; random
    # 0.00 and 1.27
    for arm in (A, C, E):
        assert 0.12 < at_4000[arm][2] < 0.25 and 0.18 < at_4000[arm][1] < 0.26
    assert at_4000[B][2] == 0.0 and at_4000[B][1] > 1.0
    # its first exact summaries after 6,000 examples
    assert points[B][2][2] > 0 and points[B][1][2] == 0
    # the last two half-epochs of (a): 0.84 → 0.87; the ends: (a) 0.87, (b) 0.68
    assert 0.82 < points[A][-3][2] < points[A][-1][2] < 0.9 and 0.62 < points[B][-1][2] < 0.74


def test_lora_as_users_use_it(r):
    # 18,432: rank 4
    assert r["counts"][C]["trainable"] == 3 * 4 * (96 + 288 + 96 + 96 + 96 + 384 + 384 + 96)
    assert r["lora_share"] < 0.10  # measured 4.8 %
    assert r["lora_scale"] == 1.0  # α = r = 4
    assert (
        r["adapter_effect"] > 0.1
        and r["merge_difference"] < 1e-4
        and r["merged_same_output"] is True
    )


def test_forgetting_beside_the_bigram_model(r):
    loss, bigram = r["pretraining_loss"], r["bigram_loss"]
    # measured on 16,384 validation characters: pre-trained 0.188, bigram 1.876; after 20,000
    # examples (a) 1.857, (c) 1.649, (e) 0.349, (b) 2.032
    assert loss["pre-trained"] < 0.25 and 1.5 < bigram < 3.0
    assert abs(loss[A] - bigram) < 0.1 and r["forgetting_full"] > 1.5  # level with the bigram model
    assert 0.1 < r["forgetting_full"] - r["forgetting_lora"] < 0.4  # LoRA lost a little less
    assert loss[E] < 0.45  # the unmasked loss keeps most of the language
    assert loss[B] > bigram  # the random start, on the corpus: worse than the bigram model
    assert r["learning_rates"][C] > r["learning_rates"][A]  # the confound the page states

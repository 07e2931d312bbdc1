"""Chapter 6 notebook, executed once inside the student edition with every exercise answered:
every check passes, the outputs equal the committed ones, and the printed results lie in their bands.

Bands were measured on the shared, loaded 2-core machine (values in comments). The copy rules are
plain Python on fixed text, so their numbers are exact; the trained arms load the weights that
data/finetuned/make_finetuned.py shipped, so their scores move only with another CPU's float rounding
in decoding; the live run trains here, and its bands are wide.
"""

import pytest

from notebooks import (  # noqa: F401 - the tests every chapter shares
    test_every_check_passes,
    test_outputs_equal_the_committed_notebook,
    test_runs_inside_the_edition_without_solutions,
)

CHAPTER = "ch06"
VARIABLES = ("scores", "counts", "lora_share", "pretraining_loss", "forgetting_full", "forgetting_lora",
             "decoders_agree", "exact_match_agrees", "padding_effect", "masked_loss_difference",
             "lora_layer_difference", "response_share", "loss_on_story", "loss_on_summary", "test_in_corpus",
             "curve_points", "decoded_exact.tolist()", "hub_rouge_difference", "copy_misses", "live_curve",
             "merge_difference", "merged_same_output", "adapter_effect", "lora_scale", "seed_scores", "bigram_loss",
             "learning_rates", "best_copy", "pair_scores")

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

A, B, C, D, E = "(a) full fine-tuning", "(b) from random weights", "(c) LoRA", "(d) prompted", "(e) unmasked prompt"
COPY_PLACE, COPY_EVENTS = "copy: hero and place", "copy: hero, place, event words"


def test_test_stories_are_new_and_the_prompt_is_masked(r):
    assert r["test_in_corpus"] == 0
    assert 0.15 < r["response_share"] < 0.25  # measured 19 %: the summary is a fifth of the targets
    assert r["padding_effect"] == 0.0  # causal attention: padding after the end cannot reach a real position
    # measured 0.2 nats/char on the story (close to pre-training's 0.19) vs 3.30 on the unseen summary
    assert r["loss_on_story"] < 0.5 and r["loss_on_summary"] > 2.0


def test_masked_loss_and_lora_layer_equal_keras(r):
    assert r["masked_loss_difference"] < 1e-4  # measured 0 to printed precision (3.29817 both)
    assert r["lora_layer_difference"] < 1e-4  # measured 1.4e-06 on outputs of order 1


def test_rouge_l_equals_keras_hub_and_has_an_interval(r):
    # measured: identical means (difference 0 up to float32 rounding of keras-hub's metric) on 40 pairs
    assert r["hub_rouge_difference"] < 1e-6
    low, high = r["pair_scores"]["rouge_l_f1_interval"]
    assert low < r["pair_scores"]["rouge_l_f1"] < high


def test_exact_match_without_decoding(r):
    assert r["decoders_agree"] is True and r["exact_match_agrees"] is True
    assert 0 < sum(r["decoded_exact.tolist()"]) < len(r["decoded_exact.tolist()"])  # both verdicts occur in the sample


def test_copy_rules(r):
    scores = r["scores"]
    # plain Python on the shipped text: exact. measured ROUGE-L F1 0.512 and 0.973, exact match 0 and 0.863
    assert scores[COPY_PLACE]["rouge_l_f1"] == pytest.approx(0.5120, abs=5e-4)
    assert scores[COPY_PLACE]["exact_match"] == 0.0
    assert scores[COPY_EVENTS]["rouge_l_f1"] == pytest.approx(0.9727, abs=5e-4)
    assert scores[COPY_EVENTS]["exact_match"] == pytest.approx(259 / 300)
    assert r["copy_misses"] == {"all": 41, "nothing": 41}  # it misses only the stories without an event
    for arm in (COPY_PLACE, COPY_EVENTS):
        for key in ("rouge_l_f1", "exact_match"):
            low, high = scores[arm][f"{key}_interval"]
            assert low <= scores[arm][key] <= high and high - low < 0.1


def test_fine_tuned_arms_and_their_baselines(r):
    scores = r["scores"]
    # the shipped weights scored here and by the script: measured ROUGE-L F1 (a) 0.577, (c) 0.629, (e) 0.549,
    # (b) 0.047 (recorded), (d) prompted 0.05; exact match (a) 0.113, (c) 0.143, (e) 0.117, (b) 0, (d) 0
    assert 0.50 < scores[A]["rouge_l_f1"] < 0.66 and 0.06 < scores[A]["exact_match"] < 0.18
    assert 0.55 < scores[C]["rouge_l_f1"] < 0.71 and 0.08 < scores[C]["exact_match"] < 0.21
    assert 0.47 < scores[E]["rouge_l_f1"] < 0.63 and 0.06 < scores[E]["exact_match"] < 0.18
    assert scores[B]["rouge_l_f1"] < 0.10 and scores[B]["exact_match"] == 0.0
    assert scores[D]["rouge_l_f1"] < 0.15 and scores[D]["exact_match"] == 0.0
    # the page's claims: pre-training is worth a factor of ten; every arm still loses to the event-word copy
    # rule (0.973, 0.863), and beats the hero-and-place one on ROUGE-L (0.512)
    for arm in (A, C, E):
        assert scores[arm]["rouge_l_f1"] > 10 * scores[B]["rouge_l_f1"]
        assert scores[arm]["rouge_l_f1"] > scores[COPY_PLACE]["rouge_l_f1"]
        assert scores[arm]["rouge_l_f1"] < r["best_copy"]["rouge_l_f1"] - 0.2
        assert scores[arm]["exact_match"] < r["best_copy"]["exact_match"] - 0.5
        for key in ("rouge_l_f1", "exact_match"):
            low, high = scores[arm][f"{key}_interval"]
            assert low <= scores[arm][key] <= high and 0.01 < high - low < 0.12  # 300 stories: about ±0.02 to ±0.04


def test_seeds_of_full_fine_tuning_and_lora(r):
    seeds = r["seed_scores"]
    for arm in (A, C):
        assert len(seeds[arm]["rouge_l_f1"]) == 3
    # measured mean ROUGE-L F1 0.588 (a) and 0.614 (c), exact match 0.118 and 0.137: LoRA a little ahead,
    # by about two seed standard deviations, with touching ranges (the page says: not clearly apart)
        assert max(seeds[arm]["rouge_l_f1"]) - min(seeds[arm]["rouge_l_f1"]) < 0.08  # measured ranges 0.024 (a) and 0.030 (c)


def test_live_run_learns_on_validation(r):
    curve = r["live_curve"]
    assert [n for n, _, _ in curve] == [320, 640, 960, 1280, 1600]
    # measured validation loss on the summaries 0.7 → 0.3 over 1,600 examples (the pre-trained model: 3.3)
    assert curve[-1][1] < curve[0][1] and curve[-1][1] < 0.6


def test_long_run_curves_are_on_validation_and_still_falling(r):
    for arm in (A, C, E):
        points = r["curve_points"][arm]
        assert [n for n, _, _ in points] == [2000, 4000]
        assert points[-1][1] < points[0][1]  # still falling when the budget ends


def test_lora_as_users_use_it(r):
    assert r["counts"][C]["trainable"] == 3 * 4 * (96 + 288 + 96 + 96 + 96 + 384 + 384 + 96)  # 18,432: rank 4
    assert r["lora_share"] < 0.10  # measured 4.8 %
    assert r["lora_scale"] == 1.0  # α = r = 4
    assert r["adapter_effect"] > 0.1 and r["merge_difference"] < 1e-4 and r["merged_same_output"] is True


def test_forgetting_beside_the_bigram_model(r):
    loss, bigram = r["pretraining_loss"], r["bigram_loss"]
    # measured on 16,384 validation characters: pre-trained 0.188, bigram 1.876; after one epoch (a) 1.73,
    # (c) 1.28, (e) 0.29, (b) 2.54
    assert loss["pre-trained"] < 0.25 and 1.5 < bigram < 3.0
    assert loss[A] > bigram - 0.5 and r["forgetting_full"] > 1.0
    assert 0 < r["forgetting_lora"] < r["forgetting_full"] - 0.2
    assert loss[E] < loss[A] - 0.8  # the unmasked loss keeps the language
    assert r["learning_rates"][C] > r["learning_rates"][A]  # the confound the page states

"""Every exercise: the reference passes public and hidden cases, every mutant fails the
public cases alone, and correct answers written differently pass."""

import numpy as np
import pytest
from mutants import load

import course
from course.checking import expected_outputs, run_cases
from course.registry import hidden_cases, public_cases

MUTANTS = load("MUTANTS")
ALTERNATIVES = load("ALTERNATIVES")
IDS = course.exercises()

REQUIRED = {  # docs/CONTRACT.md: ids every edition must have, by chapter
    "ch01": ["sigmoid", "relu", "binary_cross_entropy", "logistic_regression_gradients"],
    "ch02": ["lstm_cell_step", "shift_right", "masked_sequence_cross_entropy", "decoder_step"],
    "ch03": ["mse_reconstruction_loss", "bce_reconstruction_loss", "autoencoder_forward"],
    "ch04": [
        "causal_mask",
        "scaled_dot_product_attention",
        "sinusoidal_positional_encoding",
        "multi_head_self_attention",
        "transformer_block",
    ],
    "ch05": ["lm_inputs_and_targets", "top_k_logits", "top_p_logits", "perplexity", "gpt_forward"],
    "ch06": ["build_sft_example", "lora_forward", "rouge_l_f1"],
    "ch07": ["distillation_loss", "quantize_int8", "magnitude_prune"],
    "ch08": ["most_frequent_pair", "merge_pair", "bpe_train", "bpe_encode", "bpe_decode"],
}


def test_required_ids_of_every_chapter_present():
    chapters = {i.split(".")[0] for i in IDS}
    for chapter in chapters:
        for name in REQUIRED.get(chapter, []):
            assert f"{chapter}.{name}" in IDS


def test_ids_are_in_chapter_order():
    assert [i.split(".")[0] for i in IDS] == sorted(i.split(".")[0] for i in IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_public_cases(exercise_id):
    result = course.check(exercise_id, course.reference(exercise_id))
    assert result.passed, result.message
    assert result.score == result.max_score >= 3


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_passes_hidden_cases(exercise_id):
    for seed in (0, 1):
        cases = hidden_cases(exercise_id, seed)
        assert cases, f"{exercise_id} has no hidden cases"
        result = run_cases(
            exercise_id, course.reference(exercise_id), cases, expected_outputs(exercise_id, cases)
        )
        assert result.passed, result.message


@pytest.mark.parametrize("exercise_id", IDS)
def test_at_least_three_mutants(exercise_id):
    assert len(MUTANTS.get(exercise_id, [])) >= 3


@pytest.mark.parametrize(
    "exercise_id,mutant",
    [(i, m) for i in IDS for m in MUTANTS.get(i, [])],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_public_cases_catch_mutant(exercise_id, mutant):
    with np.errstate(all="ignore"):
        result = course.check(exercise_id, mutant)
    assert not result.passed, f"{mutant.__name__} passes {exercise_id}"
    assert result.message.startswith("❌") and "first failure" in result.message


@pytest.mark.parametrize(
    "exercise_id,alternative",
    [(i, a) for i in IDS for a in ALTERNATIVES.get(i, [])],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_correct_alternatives_pass(exercise_id, alternative):
    result = course.check(exercise_id, alternative)
    assert result.passed, result.message


def test_not_attempted_is_reported_as_such():
    def blank(*args, **kwargs):
        raise NotImplementedError

    for exercise_id in IDS:
        result = course.check(exercise_id, blank)
        assert not result.passed and not result.attempted and result.score == 0
        assert result.message.startswith("⏳")


def test_check_never_raises_for_bad_candidates():
    bad = [
        None,
        42,
        lambda *a, **k: "text",
        lambda *a, **k: [[1, 2], [3]],
        lambda *a, **k: 1 / 0,
        lambda *a, **k: object(),
        lambda: None,
    ]
    for exercise_id in IDS:
        for candidate in bad:
            result = course.check(exercise_id, candidate)
            assert not result.passed and result.message.startswith("❌")


def test_unknown_id_raises_key_error():
    with pytest.raises(KeyError, match="unknown exercise id"):
        course.check("ch99.nope", lambda x: x)


def test_public_cases_are_deterministic():
    for exercise_id in IDS:
        a, b = public_cases(exercise_id), public_cases(exercise_id)
        assert [c.name for c in a] == [c.name for c in b]

"""Chapter 6: fine-tuning examples, the masked loss and step, decoding, ROUGE-L, LoRA, and the
task's data."""

import importlib.util
import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from course.data import DATA_DIR, load_summaries, load_text, read_summaries
from solutions.ch06 import build_sft_example, lora_forward, rouge_l_f1
from tinyllm import finetuning as ft
from tinyllm.gpt import GPT, GPTConfig
from tinyllm.tokenizers import CharTokenizer

TINY = GPTConfig(vocabulary_size=28, sequence_length=32, num_layers=1, num_heads=2, d_model=16)
END = 0


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    return GPT(TINY)


def random_pairs(rng, count, max_prompt=12, max_response=8):
    prompts = [rng.integers(1, 28, size=rng.integers(1, max_prompt)) for _ in range(count)]
    responses = [rng.integers(1, 28, size=rng.integers(0, max_response)) for _ in range(count)]
    return prompts, responses


# --------------------------------------------------------------------- examples and the loss mask


def test_sft_examples_equal_the_reference_answer_row_by_row():
    rng = np.random.default_rng(0)
    prompts, responses = random_pairs(rng, 30)
    data = ft.sft_examples(prompts, responses, end_id=END, pad_id=5, length=20)
    assert data.inputs.shape == data.targets.shape == data.loss_mask.shape == (30, 20)
    assert data.loss_mask.dtype == np.float32 and data.inputs.dtype == np.int32
    for i, (prompt, response) in enumerate(zip(prompts, responses)):
        inputs, targets, mask = build_sft_example(prompt, response, END, 5, 20)
        np.testing.assert_array_equal(data.inputs[i], inputs)
        np.testing.assert_array_equal(data.targets[i], targets)
        np.testing.assert_array_equal(data.loss_mask[i], mask)
        assert data.prompt_lengths[i] == len(prompt)
        assert mask.sum() == len(response) + 1  # the response and the end token


def test_sft_examples_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="prompts\\[1\\] is empty"):
        ft.sft_examples([[1, 2], []], [[3], [4]], END, END, 8)
    with pytest.raises(ValueError, match="example 0 has 10 tokens"):
        ft.sft_examples([[1] * 6], [[2] * 3], END, END, 8)
    with pytest.raises(ValueError, match="2 prompts and 1 responses"):
        ft.sft_examples([[1], [2]], [[3]], END, END, 8)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        ft.sft_examples([[1]], [[2]], END, END, 0)
    with pytest.raises(ValueError, match="prompt_ids is empty"):
        build_sft_example([], [1], END, END, 4)
    with pytest.raises(ValueError, match="more than length"):
        build_sft_example([1, 2, 3], [4, 5], END, END, 4)


def test_task_examples_hold_story_separator_summary_and_end():
    tokenizer = CharTokenizer(load_text())
    data = load_summaries()
    examples = ft.task_examples(tokenizer, data.test.stories[:5], data.test.summaries[:5], 256)
    for i in range(5):
        n = int(examples.prompt_lengths[i]) + len(data.test.summaries[i]) + 1  # tokens of s
        whole = tokenizer.decode(
            np.concatenate([examples.inputs[i, :1], examples.targets[i, : n - 1]])
        )
        assert whole == data.test.stories[i] + " tldr " + data.test.summaries[i] + "\n"
        masked = tokenizer.decode(examples.targets[i][examples.loss_mask[i] > 0])
        assert masked == data.test.summaries[i] + "\n"


def test_unmasked_examples_learn_every_real_target():
    rng = np.random.default_rng(8)
    prompts, responses = random_pairs(rng, 20)
    masked = ft.sft_examples(prompts, responses, END, 5, 20)
    whole = ft.sft_examples(prompts, responses, END, 5, 20, mask_prompt=False)
    np.testing.assert_array_equal(whole.inputs, masked.inputs)
    np.testing.assert_array_equal(whole.targets, masked.targets)
    for i, (prompt, response) in enumerate(zip(prompts, responses)):
        # tokens of s: every target from s[1] to the end token counts
        n = len(prompt) + len(response) + 1
        np.testing.assert_array_equal(
            whole.loss_mask[i], (np.arange(20) < n - 1).astype(np.float32)
        )
    assert (whole.loss_mask >= masked.loss_mask).all()


def test_every_shipped_example_fits_the_pretrained_context():
    tokenizer = CharTokenizer(load_text())
    data = load_summaries()
    for split in (data.train, data.validation, data.test):
        # raises if one does not fit
        examples = ft.task_examples(tokenizer, split.stories, split.summaries, 256)
        assert len(examples) == len(split)


# --------------------------------------------------------------------------- loss and training


def test_the_fine_tuners_loss_is_the_mean_over_the_masked_tokens():
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 7, size=(3, 5))
    logits = rng.normal(0, 2, size=(3, 5, 7)).astype(np.float32)
    mask = (rng.random((3, 5)) < 0.5).astype(np.float32)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Embedding(7, 7)])
    loss = ft.FineTuner(model, learning_rate=1e-3, steps=2, jit_compile=False).loss
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    by_hand = -(np.take_along_axis(log_p, targets[..., None], -1)[..., 0] * mask).sum() / mask.sum()
    assert float(loss(targets, logits, sample_weight=mask)) == pytest.approx(by_hand, rel=1e-5)
    # nothing to learn, not NaN
    assert float(loss(targets, logits, sample_weight=np.zeros((3, 5)))) == 0.0


def test_fine_tuner_learns_and_restarts_the_same_way():
    rng = np.random.default_rng(2)
    prompts, responses = random_pairs(rng, 16, max_prompt=8, max_response=6)
    data = ft.sft_examples(prompts, responses, END, END, TINY.sequence_length)
    model = tiny_model()
    start = model.get_weights()
    tuner = ft.FineTuner(model, 1e-2, steps=30, jit_compile=False)
    first = tuner.train(data, 30, batch_size=8, every=10)
    assert [r["examples"] for r in first] == [80, 160, 240]
    assert first[-1]["loss"] < first[0]["loss"] - 0.5  # measured 3.3 → 1.0 (memorising 16 examples)
    tuner.start(start)
    again = tuner.train(data, 30, batch_size=8, every=10)
    for a, b in zip(first, again):  # same weights, fresh optimizer, same order: the same run
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    with pytest.raises(ValueError, match="fewer than one batch"):
        tuner.train(data.take(4), 1, batch_size=8)


def test_fine_tuner_warms_up_then_decays_along_a_cosine():
    model = tiny_model()
    tuner = ft.FineTuner(model, 1e-2, steps=20, warmup_steps=5, jit_compile=False)
    rates = [float(tuner.schedule(step)) for step in range(21)]
    assert (
        rates[0] == 0.0
        and rates[5] == pytest.approx(1e-2)
        and rates[20] == pytest.approx(0.0, abs=1e-9)
    )
    assert all(a < b for a, b in zip(rates[:5], rates[1:6]))  # a linear rise
    assert all(a >= b for a, b in zip(rates[5:], rates[6:]))  # then down
    assert rates[5 + 15 // 2] == pytest.approx(1e-2 * (1 + np.cos(np.pi * 7 / 15)) / 2, rel=1e-4)
    with pytest.raises(ValueError, match="warmup_steps"):
        ft.FineTuner(model, 1e-2, steps=5, warmup_steps=5, jit_compile=False)


def test_lora_trains_only_the_low_rank_matrices():
    rng = np.random.default_rng(3)
    data = ft.sft_examples(
        *random_pairs(rng, 8, max_prompt=8, max_response=6), END, END, TINY.sequence_length
    )
    model = tiny_model()
    ids = data.inputs[:2]
    before = keras.ops.convert_to_numpy(model(ids))
    layers = ft.enable_lora(model, rank=2)
    assert len(layers) == 4 * TINY.num_layers  # qkv, attention out, MLP in and out: all Dense
    # B = 0 at the start
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(ids)), before, atol=1e-6)
    d = TINY.d_model
    counts = ft.parameter_counts(model)
    assert counts["trainable"] == TINY.num_layers * 2 * (
        (d + 3 * d) + (d + d) + (d + 4 * d) + (4 * d + d)
    )
    assert counts["total"] == model.count_params()
    frozen = [v.numpy().copy() for v in model.non_trainable_variables]
    ft.FineTuner(model, 1e-2, steps=5, jit_compile=False).train(data, 5, batch_size=4)
    for variable, value in zip(model.non_trainable_variables, frozen):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert np.abs(layers[0].lora_kernel_b.numpy()).max() > 0


def test_keras_lora_dense_equals_the_reference_lora_forward():
    rng = np.random.default_rng(4)
    layer = keras.layers.Dense(12, use_bias=False)
    layer.build((None, 8))
    layer.enable_lora(3, lora_alpha=6.0)
    layer.lora_kernel_b.assign(rng.normal(size=(3, 12)))
    x = rng.normal(size=(2, 5, 8)).astype(np.float32)
    expected = lora_forward(
        x, layer._kernel.numpy(), layer.lora_kernel_a.numpy(), layer.lora_kernel_b.numpy(), 6.0
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------- decoding and exact match


def test_greedy_decoding_from_agreement_equals_plain_greedy_and_exact_match():
    rng = np.random.default_rng(5)
    model = tiny_model(1)
    prompts = [rng.integers(1, 28, size=rng.integers(2, 12)) for _ in range(12)]
    plain = ft.greedy_decode(model, prompts, END, max_new_tokens=10)
    assert all(len(p) <= 10 and END not in p for p in plain)
    # references: the model's own output for the even rows (exact), changed in one token for the odd
    # ones
    references = []
    for i, output in enumerate(plain):
        reference = output.copy()
        if i % 2 and len(reference):
            reference[len(reference) // 2] = (reference[len(reference) // 2] % 27) + 1
        references.append(reference)
    data = ft.sft_examples(prompts, references, END, END, TINY.sequence_length)
    exact = ft.teacher_forced_exact_match(model, data)
    decoded = ft.greedy_decode_from_agreement(model, data, END, 10)
    for i in range(12):
        np.testing.assert_array_equal(decoded[i], plain[i])
        # exact match of greedy decoding == every teacher-forced argmax right (unless 10 tokens cut
        # it short)
        if len(plain[i]) < 10:
            assert exact[i] == np.array_equal(plain[i], references[i])


def test_greedy_decode_respects_budgets_context_and_bad_input():
    model = tiny_model(2)
    prompts = [np.array([3, 4, 5]), np.array([6] * 30)]
    outputs = ft.greedy_decode(model, prompts, end_id=-1, max_new_tokens=[4, 10])  # -1: never ends
    # the second row stops at the context of 32
    assert len(outputs[0]) == 4 and len(outputs[1]) == 2
    with pytest.raises(ValueError, match="at least one token"):
        ft.greedy_decode(model, [np.array([], np.int32)], END, 3)
    with pytest.raises(ValueError, match="longer than the context"):
        ft.greedy_decode(model, [np.arange(40) % 28], END, 3)
    with pytest.raises(ValueError, match="max_new_tokens must be ≥ 0"):
        ft.greedy_decode(model, prompts, END, -1)


# --------------------------------------------------------------------------- ROUGE-L


def test_story_scores_equal_the_reference_answer_and_keras_hub():
    rng = np.random.default_rng(6)
    words = ["mia", "forest", "saw", "fox", "found", "red", "ball", "gave", "to"]
    candidates = [" ".join(rng.choice(words, size=rng.integers(0, 9))) for _ in range(200)]
    references = [" ".join(rng.choice(words, size=rng.integers(1, 9))) for _ in range(200)]
    scores = ft.story_scores(candidates, references)
    assert scores["rouge_l_f1"].shape == scores["exact_match"].shape == (200,)
    for c, r, f1, exact in zip(candidates, references, scores["rouge_l_f1"], scores["exact_match"]):
        # rouge-score == the exercise's answer
        assert f1 == pytest.approx(rouge_l_f1(c, r), abs=1e-12)
        assert exact == (c.split() == r.split())
    import keras_hub  # its RougeL wraps rouge-score: the mean F1 over the pairs

    data = load_summaries()
    candidates, references = data.test.summaries[:50], data.test.summaries[1:51]
    metric = keras_hub.metrics.RougeL()
    metric.update_state(references, candidates)
    ours = ft.summary_scores(candidates, references)["rouge_l_f1"]
    # measured 0.134957 both
    assert float(metric.result()["f1_score"]) == pytest.approx(ours, rel=1e-5)


def test_summary_scores_and_their_bootstrap_intervals():
    scores = ft.summary_scores(["mia forest", "tom river saw fox"], ["mia forest", "tom river"])
    assert scores["rouge_l_f1"] == pytest.approx((1 + 2 / 3) / 2) and scores["exact_match"] == 0.5
    low, high = scores["exact_match_interval"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    with pytest.raises(ValueError, match="as many candidates"):
        ft.summary_scores(["a"], ["a", "b"])
    # a mean of 300 coin flips: the 95 % interval is about ±1.96·√(0.25/300) = ±0.057 around the
    # mean
    values = (np.random.default_rng(7).random(300) < 0.5).astype(float)
    low, high = ft.bootstrap_interval(values)
    assert low < values.mean() < high and 0.09 < high - low < 0.14  # measured width 0.113
    assert ft.bootstrap_interval(np.ones(10)) == (1.0, 1.0)
    assert ft.bootstrap_interval(values, seed=1) != ft.bootstrap_interval(values, seed=2)
    with pytest.raises(ValueError, match="at least 2 values"):
        ft.bootstrap_interval([0.5])
    with pytest.raises(ValueError, match="confidence"):
        ft.bootstrap_interval(values, confidence=95)


def test_no_exercise_answer_in_the_library():
    source = Path(ft.__file__).read_text(encoding="utf-8")
    for line in (
        "c, r = candidate.split(), reference.split()",
        "def lcs_length",
        "isinstance(candidate, str)",
    ):
        assert line not in source


# --------------------------------------------------------------------------- the task's data


def test_load_summaries_ships_held_out_splits():
    data = load_summaries()
    assert (len(data.train), len(data.validation), len(data.test)) == (4000, 300, 300)
    corpus = set(load_text().splitlines())
    train = set(data.train.stories)
    for split in (data.validation, data.test):
        assert not any(story in corpus or story in train for story in split.stories)
    vocabulary = set(CharTokenizer(load_text()).vocabulary)
    for split in (data.train, data.validation, data.test):
        assert all(
            set(s) <= vocabulary and set(m) <= vocabulary
            for s, m in zip(split.stories, split.summaries)
        )
    assert data.info["sizes"] == {"train": 4000, "validation": 300, "test": 300}


def test_read_summaries_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_summaries.py"):
        read_summaries(tmp_path / "missing.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("one day mia went home.\tmia home\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv line 2: expected 'story<TAB>summary'"):
        read_summaries(bad)
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="holds no stories"):
        read_summaries(empty)
    with pytest.raises(FileNotFoundError):
        load_summaries(tmp_path)


def _script(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(path).parent.parent))
    spec.loader.exec_module(module)
    return module


def test_summaries_come_from_the_story_events():
    make = _script("make_summaries", DATA_DIR / "summaries" / "make_summaries.py")
    record = {
        "hero": "mia",
        "place": "forest",
        "events": [
            ("feel", "glad", "sunny"),
            ("see", "quiet", "fox"),
            ("give", "hat", "tom"),
            ("find", "red", "ball"),
        ],
    }
    assert make.summarize(record) == "mia forest saw fox gave hat to tom found red ball"
    assert (
        make.summarize({"hero": "leo", "place": "river", "events": [("weather", "cold")]})
        == "leo river nothing"
    )
    data = load_summaries()
    story, summary = data.test.stories[0], data.test.summaries[0]
    assert summary.split()[0] in story.split()[2] and summary.split()[1] in story


def test_make_summaries_is_reproducible(tmp_path, monkeypatch):
    make = _script("make_summaries", DATA_DIR / "summaries" / "make_summaries.py")
    monkeypatch.setattr(sys, "argv", ["make_summaries.py", "--out", str(tmp_path)])
    make.main()
    for name in ("train.tsv", "validation.tsv", "test.tsv", "info.json"):
        assert (tmp_path / name).read_bytes() == (DATA_DIR / "summaries" / name).read_bytes(), name
    assert json.loads((tmp_path / "info.json").read_text())["longest_example"] <= 257


def test_the_corpus_grammar_still_writes_the_shipped_corpus():
    corpus = _script("make_corpus", DATA_DIR / "make_corpus.py")
    assert corpus.generate(1_200_000, 2024) == load_text()  # events are recorded without new draws


# -------------------------------------------------------------------------- the shipped long runs


def test_load_finetuned_summariser_errors_name_the_problem(tmp_path):
    from course.data import load_finetuned_summariser

    with pytest.raises(ValueError, match="unknown arm 'best'"):
        load_finetuned_summariser("best")
    with pytest.raises(FileNotFoundError, match="make_finetuned.py"):
        load_finetuned_summariser("full", tmp_path)
    (tmp_path / "summarisers.json").write_text(json.dumps({"arms": {}}), encoding="utf-8")
    (tmp_path / "summariser_full.weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="no record of the arm 'full'"):
        load_finetuned_summariser("full", tmp_path)


def test_shipped_summarisers_are_small_and_recorded():
    from course.data import FINETUNED_DIR, SUMMARISER_ARMS, load_finetuned_summariser

    record = json.loads((FINETUNED_DIR / "summarisers.json").read_text(encoding="utf-8"))
    # chapter 6 loads these three
    assert {"full", "lora", "random"} <= set(record["arms"]) <= set(SUMMARISER_ARMS)
    for arm in record["arms"]:
        assert (FINETUNED_DIR / f"summariser_{arm}.weights.h5").stat().st_size < 2_000_000
        info = record["arms"][arm]
        assert info["runs"] and info["runs"][0]["seed"] == 0
        assert info["mask_prompt"] == (arm in ("full", "lora"))
    summariser = load_finetuned_summariser("full")
    assert summariser.info["learning_rate"] == record["arms"]["full"]["learning_rate"]
    # the plain GPT (LoRA's adapter merged)
    assert summariser.model.count_params() == 381_408 - 18_432

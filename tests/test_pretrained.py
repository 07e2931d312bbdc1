"""The shipped pre-trained mini GPT (data/pretrained/) that chapters 6 and 7 start from."""

import json
import shutil
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
from notebooks import ROOT

from course.data import PRETRAINED_DIR, load_pretrained_gpt, load_text
from course.environment import quiet_environment


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained_gpt()


def test_record_describes_the_chapter_five_shape_with_a_longer_context(pretrained):
    assert asdict(pretrained.config) == {
        "vocabulary_size": 28,
        "sequence_length": 256,
        "num_layers": 3,
        "num_heads": 4,
        "d_model": 96,
    }
    assert pretrained.info["made_by"] == "python data/pretrained/make_pretrained.py"
    assert pretrained.model.count_params() == 362_976
    # the weights file stays small enough to ship (float32 weights ≈ 4 bytes per parameter)
    assert (PRETRAINED_DIR / "tiny_world_gpt.weights.h5").stat().st_size < 2_000_000


def test_weights_reach_the_recorded_validation_loss(pretrained):
    import keras

    from tinyllm.text_data import prepare_text, validation_windows

    data = prepare_text(load_text(), pretrained.config.sequence_length)
    windows = validation_windows(data.val_ids, pretrained.config.sequence_length, max_tokens=8192)
    logits = pretrained.model.predict(windows[:, :-1], batch_size=8, verbose=0)
    loss = float(
        keras.ops.mean(
            keras.losses.sparse_categorical_crossentropy(windows[:, 1:], logits, from_logits=True)
        )
    )
    # the record's loss is over the first 65,536 validation characters, this over the first 8,192:
    # the same model on a sub-sample, so close; an untrained or mis-loaded model is at ≥ 2.8
    # (unigram level)
    assert abs(loss - pretrained.info["val_loss"]) < 0.05, (loss, pretrained.info["val_loss"])
    assert loss < 0.3


def test_each_call_builds_a_fresh_model(pretrained):
    other = load_pretrained_gpt()
    assert other.model is not pretrained.model
    for a, b in zip(other.model.weights, pretrained.model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other.model.token_embedding.embeddings.assign(other.model.token_embedding.embeddings * 0)
    assert np.abs(pretrained.model.token_embedding.embeddings.numpy()).max() > 0


def test_missing_files_name_the_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_pretrained.py"):
        load_pretrained_gpt(tmp_path)


def test_a_record_of_another_vocabulary_is_refused(tmp_path):
    shutil.copy(PRETRAINED_DIR / "tiny_world_gpt.weights.h5", tmp_path)
    record = json.loads((PRETRAINED_DIR / "tiny_world_gpt.json").read_text(encoding="utf-8"))
    record["vocabulary"] = record["vocabulary"].replace("z", "")
    (tmp_path / "tiny_world_gpt.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ValueError, match="vocabulary"):
        load_pretrained_gpt(tmp_path)


@pytest.mark.slow
def test_the_script_makes_a_loadable_model(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "data/pretrained/make_pretrained.py",
            "--steps",
            "3",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=quiet_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    made = load_pretrained_gpt(tmp_path)
    assert made.info["run"]["steps"] == 3 and made.info["val_loss"] > 2.0  # 3 steps: barely trained

"""The `course` machinery: serialisation, environment check, data loaders."""

import subprocess
import sys

import numpy as np
import pytest

import course
from course import serialize
from course.data import load_breast_cancer_split, load_text, make_2d_dataset
from tinyllm.text_data import split_text
from course.environment import environment_problems


def test_serialize_round_trip():
    value = (np.arange(6, dtype=np.float32).reshape(2, 3), [1, 2.5, None, True, "x"], {"a": np.array(-np.inf)})
    back = serialize.loads(serialize.dumps(value))
    np.testing.assert_array_equal(back[0], value[0])
    assert back[1] == [1, 2.5, None, True, "x"] and np.isneginf(back[2]["a"])


def test_serialize_refuses_objects():
    with pytest.raises(TypeError):
        serialize.dumps(object())
    with pytest.raises(TypeError):
        serialize.dumps(np.array([object()], dtype=object))


def test_environment_is_as_pinned():
    assert environment_problems() == []
    assert course.check_environment(verbose=False)


def test_environment_names_legacy_keras(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert any("TF_USE_LEGACY_KERAS" in p for p in environment_problems())


def test_course_import_pins_tensorflow_backend_and_not_solutions():
    code = ("import os, sys; os.environ['KERAS_BACKEND'] = 'jax'; import course; "
            "assert os.environ['KERAS_BACKEND'] == 'tensorflow'; assert 'solutions' not in sys.modules; "
            "course.exercises(); assert 'solutions' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="is a directory"):
        load_text(tmp_path)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8.*offset 3"):
        load_text(tmp_path / "latin1.txt")
    (tmp_path / "short.txt").write_text("abc")
    with pytest.raises(ValueError, match="at least 10"):
        load_text(tmp_path / "short.txt", min_chars=10)


def test_load_text_reads_chinese_and_the_corpus(tmp_path):
    (tmp_path / "zh.txt").write_text("\ufeff从前有一只小猫。\n", encoding="utf-8")
    assert load_text(tmp_path / "zh.txt") == "从前有一只小猫。\n"
    corpus = load_text()
    assert len(corpus) > 1_000_000
    train, validation = split_text(corpus, 0.1)
    assert train + validation == corpus and validation.startswith("one day")


def test_2d_datasets_and_breast_cancer():
    for name in ("xor", "moons", "circles", "blobs"):
        x, y = make_2d_dataset(name, n=50)
        assert x.shape == (50, 2) and set(np.unique(y)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="unknown 2-D dataset"):
        make_2d_dataset("spirals")
    split = load_breast_cancer_split()
    assert split.x_train.shape[1] == 30 and abs(split.x_train.mean()) < 1e-5

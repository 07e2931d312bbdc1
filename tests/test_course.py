"""The `course` machinery: serialisation, environment check, data loaders."""

import subprocess
import sys

import numpy as np
import pytest

import course
from course import serialize
from course.data import load_breast_cancer_split, load_text, make_2d_dataset
from course.environment import environment_problems
from tinyllm.text_data import split_text


def test_serialize_round_trip():
    value = (
        np.arange(6, dtype=np.float32).reshape(2, 3),
        [1, 2.5, None, True, "x"],
        {"a": np.array(-np.inf)},
    )
    back = serialize.loads(serialize.dumps(value))
    np.testing.assert_array_equal(back[0], value[0])
    assert back[1] == [1, 2.5, None, True, "x"] and np.isneginf(back[2]["a"])


def test_serialize_refuses_objects():
    with pytest.raises(TypeError):
        serialize.dumps(object())
    with pytest.raises(TypeError):
        serialize.dumps(np.array([object()], dtype=object))


def test_records_frame_and_unframe():
    payloads = [serialize.dumps({"event": "ready"}), b"", serialize.dumps([np.zeros(3)])]
    stream = b"".join(serialize.frame(p) for p in payloads)
    assert serialize.unframe(stream, 2**20) == payloads
    # a record cut short ends the stream
    assert serialize.unframe(stream[:-1], 2**20) == payloads[:2]
    assert serialize.unframe(stream + b"junk" * 4, 2**20) == payloads
    # a record over the limit ends it too
    assert serialize.unframe(stream, len(payloads[0]) - 1) == []


def test_call_case_is_the_one_way_to_call_a_learner_function():
    from course.calling import call_case
    from course.checking import call_candidate
    from course.registry import Case

    def exits(x):
        sys.exit(3)

    def changes_its_input(x):
        x[0] = 99
        return x

    def not_yet(x):
        raise NotImplementedError

    def fails(x):
        raise ValueError("bad\nsecond line")

    data = np.zeros(2)
    # inputs are copies
    assert call_case(changes_its_input, (data,), {})[0] == "ok" and data[0] == 0
    assert call_case(not_yet, (1,), {}) == (
        "not_attempted",
        "still raises NotImplementedError",
        NotImplementedError,
    )
    assert call_case(fails, (1,), {}) == ("error", "raised ValueError: bad", ValueError)
    assert call_case(exits, (1,), {}, catch=BaseException) == (
        "error",
        "called sys.exit(3)",
        SystemExit,
    )
    # in a notebook only Exception is the learner's: sys.exit, Ctrl-C go through
    with pytest.raises(SystemExit):
        call_case(exits, (1,), {})
    assert call_candidate(fails, Case("c", (1,))) == ("error", "raised ValueError: bad")


def test_what_the_grader_child_loads_imports_only_the_standard_library():
    """The learner's process may not import `course`: it loads serialize.py and calling.py by
    path."""
    import ast

    from course.sandbox import CHILD_MODULES, CHILD_SOURCE

    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for source in [CHILD_SOURCE, *CHILD_MODULES.values()]:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        imported |= {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and not node.level
        }
        assert imported <= allowed | {"tensorflow", "keras"}, (source.name, imported - allowed)


def test_environment_is_as_pinned():
    assert environment_problems() == []
    assert course.check_environment(verbose=False)


def test_environment_names_legacy_keras(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert any("TF_USE_LEGACY_KERAS" in p for p in environment_problems())


@pytest.mark.slow
def test_course_import_pins_tensorflow_backend_and_not_solutions():
    code = (
        "import os, sys; os.environ['KERAS_BACKEND'] = 'jax'; import course; "
        "assert os.environ['KERAS_BACKEND'] == 'tensorflow'; assert 'solutions' not in "
        "sys.modules; "
        "course.exercises(); assert 'solutions' not in sys.modules"
    )
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

"""`python -m course.gpt` and `python -m course.bench gpt` keep docs/CONTRACT.md: --help on every
command, clear errors for bad input, any UTF-8 text (Chinese included), and the last lines the
contract names."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course.environment import quiet_environment

ROOT = Path(__file__).resolve().parent.parent
CHINESE = ROOT / "data" / "corpus" / "tiny_world_zh.txt"  # 小小世界, 127 distinct characters
TINY = (
    "--layers 1 --heads 2 --d-model 32 --seq-len 16 --global-batch 4 "
    "--precision float32 --val-tokens 512 --eval-every 0"
).split()

BENCH_TINY = "--layers 1 --d-model 32 --heads 2 --seq-len 16 --batch 4 --steps 3".split()


def run(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=quiet_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        ["course.gpt"],
        ["course.gpt", "train"],
        ["course.gpt", "sample"],
        ["course.bench"],
        ["course.bench", "gpt"],
        ["course.bench", "compare"],
        ["course.bench", "fit"],
    ],
)
def test_every_command_has_help(command):
    result = run(*command, "--help", timeout=60)
    assert result.returncode == 0 and "usage:" in result.stdout


@pytest.mark.slow
def test_help_names_the_contract_options():
    train = run("course.gpt", "train", "--help", timeout=60).stdout
    for option in "--text --strategy --replicas --steps --global-batch --seed --out".split():
        assert option in train
    sample = run("course.gpt", "sample", "--help", timeout=60).stdout
    for option in "--out --prompt --max-tokens --temperature --top-k --top-p --seed".split():
        assert option in sample
    bench = run("course.bench", "gpt", "--help", timeout=60).stdout
    for option in "--layers --heads --d-model --seq-len --batch --vocab --steps".split():
        assert option in bench


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "is empty"),
        (b"caf\xe9 au lait\n" * 40, "is not UTF-8 text (invalid byte 0xe9 at offset 3)"),
        ("short text\n".encode(), "at least 34 are needed"),
        # 12-character validation part
        (
            ("one line.\n" * 12).encode(),
            "too short for a context of 16 characters",
        ),
    ],
)
@pytest.mark.slow
def test_bad_text_files_get_a_clear_error(tmp_path, content, message):
    path = tmp_path / "mine.txt"
    path.write_bytes(content)
    result = run("course.gpt", "train", "--text", str(path), *TINY, "--steps", "1", timeout=120)
    assert result.returncode == 2
    assert message in result.stderr and "--text" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_text_file_and_bad_options():
    result = run("course.gpt", "train", "--text", "no/such/file.txt", timeout=60)
    assert result.returncode == 2 and "text file not found" in result.stderr
    assert run("course.gpt", "train", "--steps", "0", timeout=60).returncode == 2
    assert run("course.gpt", "train", "--strategy", "cluster", timeout=60).returncode == 2
    bad_p = run("course.gpt", "sample", "--out", "x", "--prompt", "a", "--top-p", "2", timeout=60)
    assert "argument --top-p: expected a number in (0, 1]" in bad_p.stderr


@pytest.mark.slow
def test_multiworker_without_tf_config_is_refused():
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "course.gpt", "train", "--strategy", "multiworker", *TINY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "TF_CONFIG" in result.stderr


@pytest.mark.slow
def test_global_batch_must_divide_among_replicas():
    result = run(
        "course.gpt",
        "train",
        "--strategy",
        "mirrored",
        "--replicas",
        "2",
        *TINY[:-4],
        "--global-batch",
        "5",
        "--steps",
        "1",
        timeout=120,
    )
    assert (
        result.returncode == 2
        and "--global-batch 5 must be a multiple of the 2 replicas" in result.stderr
    )


@pytest.mark.slow
def test_chinese_text_trains_samples_and_resumes_only_with_the_same_settings(tmp_path):
    out = tmp_path / "zh"
    result = run(
        "course.gpt", "train", "--text", str(CHINESE), *TINY, "--steps", "3", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"val_loss=\d+\.\d+", last)
    # ~log(127) = 4.84 after 3 steps from a random start
    assert 3.0 < float(last.split("=")[1]) < 6.0

    sample = run(
        "course.gpt",
        "sample",
        "--out",
        str(out),
        "--prompt",
        "有一天",
        "--max-tokens",
        "12",
        "--top-k",
        "5",
        "--top-p",
        "0.9",
        "--seed",
        "1",
    )
    assert sample.returncode == 0, sample.stderr[-2000:]
    text = sample.stdout.strip()
    assert text.startswith("有一天") and len(text) == 3 + 12

    unknown = run("course.gpt", "sample", "--out", str(out), "--prompt", "hello")
    assert (
        unknown.returncode == 2
        and "--prompt" in unknown.stderr
        and "not in the vocabulary" in unknown.stderr
    )

    different = run(
        "course.gpt",
        "train",
        "--text",
        str(CHINESE),
        *TINY,
        "--steps",
        "3",
        "--seed",
        "1",
        "--out",
        str(out),
    )
    assert different.returncode == 2 and "holds a run with a different run" in different.stderr


@pytest.mark.slow
def test_sample_needs_a_trained_run(tmp_path):
    result = run("course.gpt", "sample", "--out", str(tmp_path), "--prompt", "one day")
    assert result.returncode == 2 and "holds no training run" in result.stderr


@pytest.mark.slow
def test_bench_prints_tokens_per_second_and_parameters():
    result = run(
        "course.bench",
        "gpt",
        *BENCH_TINY,
        "--warmup",
        "1",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.fullmatch(
        r"tokens_per_sec=(\d+\.\d+) params=(\d+)", result.stdout.strip().splitlines()[-1]
    )
    assert match and float(match.group(1)) > 0
    # by hand (d=32, m=4d=128): 65·32 + 16·32 + (4·32² + 4·32) + (2·32·128 + 128 + 32) + 4·32 + 2·32
    # = 15,360
    assert int(match.group(2)) == 15_360


@pytest.mark.slow
def test_bench_compare_alternates_and_reports_the_median_ratio(tmp_path):
    # A stand-in for the PyTorch reference (torch is not a course dependency): it prints a fixed
    # figure.
    reference = tmp_path / "reference.py"
    reference.write_text("print('tokens_per_sec=1000.0 params=15360')\n")
    result = run(
        "course.bench",
        "compare",
        "--torch-python",
        sys.executable,
        "--reference",
        str(reference),
        "--rounds",
        "2",
        *BENCH_TINY,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    cpu, *lines = result.stdout.strip().splitlines()
    # speeds are only comparable on one CPU: it is named
    assert re.fullmatch(r"cpu: .+, \d+ cores", cpu)
    assert (
        lines[0].startswith("round 1:")
        and lines[1].startswith("round 2:")
        and "torch 1,000 tokens/s" in lines[0]
    )
    match = re.fullmatch(
        r"ratio=(\d+\.\d+) keras_tokens_per_sec=(\d+\.\d+) torch_tokens_per_sec=1000\.0", lines[-1]
    )
    assert match and float(match.group(1)) == pytest.approx(float(match.group(2)) / 1000, rel=1e-2)
    assert (
        run(
            "course.bench",
            "compare",
            "--torch-python",
            sys.executable,
            "--reference",
            str(tmp_path / "missing.py"),
            timeout=60,
        ).returncode
        != 0
    )


FIT_TINY = (
    "--steps 4 --steps-per-epoch 2 --layers 1 --d-model 32 --heads 2 --seq-len 16 --batch 4 "
    "--val-tokens 256"
).split()


@pytest.mark.slow
def test_bench_fit_times_chapter_five_to_its_validation_loss():
    result = run("course.bench", "fit", "--path", "fast", *FIT_TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    # XLA taken, not silently refused
    assert lines[0].startswith("path=fast jit=True steps=4 steps_per_epoch=2")
    curve = [
        re.fullmatch(r"epoch step=(\d+) val_loss=(\d+\.\d+) seconds=(\d+\.\d+)", line)
        for line in lines[1:3]
    ]
    assert all(curve) and [int(m.group(1)) for m in curve] == [2, 4]
    match = re.fullmatch(
        r"seconds=(\d+\.\d+) val_loss=(\d+\.\d+) tokens_per_sec=(\d+\.\d+)", lines[-1]
    )
    assert match and float(match.group(2)) == float(curve[-1].group(2))
    # 4 steps from log 28 = 3.33 (measured 3.185): trained, not garbage
    assert float(match.group(2)) < 3.6
    bad = run(
        "course.bench",
        "fit",
        "--path",
        "fast",
        "--steps",
        "5",
        "--steps-per-epoch",
        "2",
        timeout=60,
    )
    assert bad.returncode != 0 and "multiple of --steps-per-epoch" in bad.stderr


@pytest.mark.slow
def test_bench_fit_both_paths_reach_the_same_validation_loss():
    result = run("course.bench", "fit", "--path", "both", "--rounds", "1", *FIT_TINY)
    assert result.returncode == 0, result.stderr[-2000:]
    cpu, *lines = result.stdout.strip().splitlines()
    assert cpu.startswith("cpu: ")
    assert lines[0].startswith("round 1: fast ")
    values = dict(field.split("=") for field in lines[-1].split())
    assert set(values) == {
        "speedup",
        "fast_seconds",
        "plain_seconds",
        "fast_val_loss",
        "plain_val_loss",
        "plain_val_loss_in_fast_time",
    }
    values = {key: float(value) for key, value in values.items()}
    assert values["speedup"] == pytest.approx(
        values["plain_seconds"] / values["fast_seconds"], rel=0.02
    )
    # XLA changes the speed, not the maths: the same weights up to float rounding (measured: equal
    # to 4 digits)
    assert abs(values["fast_val_loss"] - values["plain_val_loss"]) < 1e-3


@pytest.mark.slow
def test_the_command_line_reports_the_xla_that_actually_ran():
    """XLA compiles the step on one device only: asked for under two replicas, it is reported off,
    as run."""
    mirrored = run(
        "course.gpt",
        "train",
        "--strategy",
        "mirrored",
        "--replicas",
        "2",
        "--jit",
        "on",
        *TINY,
        "--steps",
        "2",
        timeout=180,
    )
    assert mirrored.returncode == 0, mirrored.stderr[-2000:]
    assert "XLA off (XLA is not used with several replicas)" in mirrored.stdout
    single = run("course.gpt", "train", *TINY, "--steps", "2", timeout=180)
    assert single.returncode == 0 and "XLA on" in single.stdout


# --------------------------------------------------------------------- chapter 8: --tokenizer bpe


@pytest.mark.slow
@pytest.mark.parametrize(
    "options,message",
    [
        (["--tokenizer", "bpe", "--vocab-size", "200"], "must be at least 256, got 200"),
        (["--tokenizer", "bpe", "--vocab-size", "lots"], "expected an integer, got 'lots'"),
        (
            ["--vocab-size", "300"],
            "--vocab-size is the size of a BPE vocabulary: add --tokenizer bpe",
        ),
    ],
)
def test_bad_bpe_options_get_a_clear_error(options, message):
    result = run("course.gpt", "train", *TINY, "--steps", "1", *options, timeout=120)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_text_too_short_for_the_merges_asked_is_refused(tmp_path):
    path = tmp_path / "small.txt"
    # 7 distinct pre-tokens: 16 merges at most
    path.write_text("one day ivy went home.\n" * 40, encoding="utf-8")
    result = run(
        "course.gpt",
        "train",
        "--text",
        str(path),
        *TINY,
        "--steps",
        "1",
        "--tokenizer",
        "bpe",
        "--vocab-size",
        "300",
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--vocab-size 300: the text is too short for vocabulary_size=300" in result.stderr
    assert "at most 272 ids" in result.stderr


@pytest.mark.slow
def test_bpe_run_keeps_its_tokenizer_and_sample_decodes_with_it(tmp_path):
    import json

    from tinyllm.bpe import BPETokenizer

    text = tmp_path / "story.txt"
    text.write_text(
        (ROOT / "data" / "corpus" / "tiny_world.txt").read_text(encoding="utf-8")[:30_000], "utf-8"
    )
    out = tmp_path / "bpe"
    result = run(
        "course.gpt",
        "train",
        "--text",
        str(text),
        *TINY,
        "--steps",
        "3",
        "--tokenizer",
        "bpe",
        "--vocab-size",
        "320",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"val_loss=\d+\.\d+", lines[-1])
    assert re.fullmatch(
        r"validation: [\d.]+ nats/token × [\d,]+ tokens / [\d,]+ characters = [\d.]+ nats/char",
        lines[-2],
    )
    assert "vocabulary 320 (byte-level BPE" in result.stdout
    tokenizer = BPETokenizer.load(out / "tokenizer.json")
    assert tokenizer.vocabulary_size == 320
    assert json.loads((out / "run.json").read_text())["tokenizer"]["kind"] == "bpe"
    sample = run(
        "course.gpt",
        "sample",
        "--out",
        str(out),
        "--prompt",
        "one day",
        "--max-tokens",
        "10",
        "--seed",
        "1",
    )
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.strip().startswith("one day") and len(sample.stdout.strip()) > len(
        "one day"
    )
    unseen = run(
        "course.gpt", "sample", "--out", str(out), "--prompt", "zebra 你好", "--max-tokens", "3"
    )
    # bytes: nothing is out of vocabulary
    assert unseen.returncode == 0 and unseen.stdout.startswith("zebra 你好")
    (out / "tokenizer.json").unlink()
    missing = run("course.gpt", "sample", "--out", str(out), "--prompt", "one day")
    assert missing.returncode == 2 and "no tokenizer (tokenizer.json is missing)" in missing.stderr
    assert "Traceback" not in missing.stderr

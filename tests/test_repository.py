"""The repository keeps its promises: pinned dependencies in step, README commands true,
notebooks committed executed and clean of machine paths."""

import re
import subprocess

import nbformat
import pytest
from notebooks import ROOT, chapter_notebooks, exercise_cells

import course


def _pins(lines):
    return sorted(
        line.strip().lstrip("- ").strip()
        for line in lines
        if re.match(r"^\s*-?\s*[A-Za-z0-9_.\-]+==", line)
    )


def test_environment_yml_mirrors_requirements():
    requirements = _pins((ROOT / "requirements.txt").read_text().splitlines())
    environment = _pins((ROOT / "environment.yml").read_text().splitlines())
    assert requirements and requirements == environment


def test_core_versions_pinned():
    text = (ROOT / "requirements.txt").read_text()
    for pin in ("tensorflow==2.21.", "keras==3.15.", "keras-hub==0.32.", "keras-nlp==0.32."):
        assert pin in text


def test_readme_commands_exist_in_makefile_and_ci():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make lab" in readme and "make test" in readme
    for target in ("lab", "test", "execute", "release", "bench", "setup"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in chapter_notebooks():
        assert path.stem in readme


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_notebook_committed_executed_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code and all(c.execution_count for c in code), (
        "commit the notebook executed (make execute)"
    )
    counts = [c.execution_count for c in code]
    assert counts == sorted(counts), "cells must be executed top to bottom"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    raw = path.read_text(encoding="utf-8")
    assert not re.search(r"/(work|root|home|tmp)/", raw), "machine paths in notebook outputs"
    assert path.stat().st_size < 2_000_000, "keep notebook outputs small"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_notebook_has_every_exercise_with_a_check(path):
    nb = nbformat.read(path, as_version=4)
    chapter = "ch" + path.name[:2]
    wanted = [i for i in course.exercises() if i.startswith(chapter + ".")]
    cells = exercise_cells(nb)
    assert sorted(cells) == sorted(wanted)
    index = {id(c): i for i, c in enumerate(nb.cells)}
    for exercise_id, cell in cells.items():
        name = exercise_id.split(".", 1)[1]
        assert re.search(rf"^def {name}\(", cell.source, re.M), (
            f"{exercise_id}: cell must define {name}()"
        )
        assert "NotImplementedError" in cell.source, (
            f"{exercise_id}: the learner's cell starts blank"
        )
        following = nb.cells[index[id(cell)] + 1]
        assert f'check("{exercise_id}", {name})' in following.source


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_every_notebook_has_a_results_test(path):
    assert (ROOT / "tests" / f"test_ch{path.name[:2]}_notebook.py").exists()


def repository_files() -> list:
    """The files the repository holds or is about to: tracked, or untracked and not ignored (so not
    the virtual environments, caches and build outputs that `make` leaves); every file without
    git."""
    try:
        listed = (
            subprocess.run(
                ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
    except (OSError, subprocess.CalledProcessError):
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and not {".venv", ".venv-torch", ".git"} & set(p.parts)
        ]
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def test_no_machine_paths_in_sources():
    for path in repository_files():
        if path.suffix in {".py", ".md", ".txt", ".toml", ".yml", ".cfg"} or path.name in {
            "Makefile",
            "run",
        }:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not re.search(r"/(work|root)/", text), path


def _commands(text: str) -> list:
    return re.findall(r"^(make \w[\w-]*)", text, re.M)


def test_chinese_readme_in_step_with_english():
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert "README.zh-CN.md" in english and "README.md" in chinese
    assert _commands(english) == _commands(chinese) == ["make lab", "make test"]
    chapters = lambda text: re.findall(r"^\| (\d) \| \S*`(\d\d_\w+)`", text, re.M)  # noqa: E731
    assert chapters(english) == chapters(chinese)
    assert [stem for _, stem in chapters(english)] == [path.stem for path in chapter_notebooks()]
    for path in chapter_notebooks():
        assert path.stem in chinese
    assert "docs/chapter_map.png" in english and "docs/chapter_map.png" in chinese


def test_glossary_is_bilingual_and_linked_from_every_chapter():
    glossary = (ROOT / "docs" / "GLOSSARY.md").read_text(encoding="utf-8")
    assert "| English | 中文 | definition | 定义 | ch |" in glossary
    rows = re.findall(
        r'^\| <a id="([\w-]+)"></a>([^|]+)\| ([^|]+) \| (.+) \| ((?:[^|\\]|\\.)+) \| (\d) \|$',
        glossary,
        re.M,
    )
    assert len(rows) >= 60
    anchors = [r[0] for r in rows]
    assert len(anchors) == len(set(anchors))
    for anchor, english, chinese, definition, chinese_definition, chapter in rows:
        assert re.search(r"[\u4e00-\u9fff]", chinese), f"{english}: no Chinese term"
        assert re.search(r"[\u4e00-\u9fff]", chinese_definition), (
            f"{english}: no Chinese definition (定义)"
        )
        assert 1 <= int(chapter) <= 8 and definition.strip()
    for path in chapter_notebooks():
        links = re.findall(r"GLOSSARY\.md#([\w-]+)", path.read_text(encoding="utf-8"))
        assert links, f"{path.name} links no glossary term"
        assert set(links) <= set(anchors), (
            f"{path.name}: unknown glossary anchors {set(links) - set(anchors)}"
        )


# A learner's clone has nothing beside it: no file may lean on the course's design folder
# (../shared), climb out of the repository with ../, or cite the contract anywhere but
# docs/CONTRACT.md.
SHARED_FOLDER = re.compile(r"(?<![\w.-])(?:\.\./)*shared/\w[\w./-]*")
CLIMB = re.compile(r"(?:\.\./)+[^\s'\"`()\[\]<>#\\]*")
CONTRACT = ROOT / "docs/CONTRACT.md"
CONTRACT_CITED = re.compile(r"(?<![\w.-])((?:[\w.-]+/)*)CONTRACT\.md")


def test_no_file_cites_a_path_outside_the_repository():
    problems = []
    for path in repository_files():
        if path.suffix not in {
            ".py",
            ".md",
            ".txt",
            ".toml",
            ".yml",
            ".cfg",
            ".ipynb",
            ".sh",
        } and path.name not in {"Makefile", "run"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        relative = path.relative_to(ROOT)
        problems += [f"{relative}: {m.group()!r}" for m in SHARED_FOLDER.finditer(text)]
        for match in CLIMB.finditer(text):
            if not (path.parent / match.group()).resolve().is_relative_to(ROOT):
                problems.append(f"{relative}: {match.group()!r} leaves the repository")
        for match in CONTRACT_CITED.finditer(text):
            if (
                match.group() != "docs/CONTRACT.md"
                and (path.parent / match.group()).resolve() != CONTRACT
            ):
                problems.append(
                    f"{relative}: cite the contract as docs/CONTRACT.md, not {match.group()!r}"
                )
    assert not problems, "\n".join(problems)


def test_the_contract_is_in_the_repository():
    lines = CONTRACT.read_text(encoding="utf-8").splitlines()
    assert "mirrors the course's public contract" in lines[0]
    assert lines[1] == "# The course's public contract"
    assert "`python -m course.bench gpt" in "\n".join(lines)


def test_bench_finds_its_pytorch_reference_in_the_repository():
    from course import bench

    reference = bench.TORCH_REFERENCE
    assert reference.is_file() and reference.resolve().is_relative_to(ROOT)
    assert reference.resolve() in {p.resolve() for p in repository_files()}, (
        "commit bench/torch_gpt_reference.py"
    )
    parser = bench.build_parser()
    compare = parser.parse_args(["compare", "--torch-python", "python"])
    assert compare.reference == reference
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^TORCH_REFERENCE := bench/torch_gpt_reference\.py$", makefile, re.M)
    assert "--reference $(TORCH_REFERENCE)" in makefile
    # The two benchmarks time the same model: the reference's defaults are `course.bench gpt`'s.
    defaults = dict(
        re.findall(r'add_argument\("--([\w-]+)", type=int, default=(\d+)\)', reference.read_text())
    )
    gpt = parser.parse_args(["gpt"])
    for name in bench.MODEL_OPTIONS:
        assert int(defaults[name.replace("_", "-")]) == getattr(gpt, name), name


def test_makefile_quiet_environment_is_the_course_one():
    from course.environment import QUIET_ENV

    line = re.search(r"^QUIET := (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert dict(item.split("=", 1) for item in line.split()) == QUIET_ENV

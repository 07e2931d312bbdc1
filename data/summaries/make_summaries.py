"""Generate chapter 6's summarisation task: tiny-world stories and a reference summary of each.

    python data/summaries/make_summaries.py [--out DIR]  # a few seconds, standard library + NumPy

It rewrites ``train.tsv``, ``validation.tsv``, ``test.tsv`` (``story<TAB>summary``, one story a
line, the story without its newline) and ``info.json`` next to itself (or in DIR). The stories come
from the corpus grammar itself (``data/make_corpus.py``'s ``paragraph``, which also reports what
happened in the story), with seeds of their own, so the output is the same on every machine.

The summary keeps who, where and what happened, in story order, and drops the rest (feelings,
weather, counting, the ending)::

    one day mia went to the forest. she felt glad because the day was sunny. she saw a quiet fox
    near the forest. mia gave her hat to tom. the end.
    ->  mia forest saw fox gave hat to tom

    hero place [saw ANIMAL | found COLOR THING | gave THING to FRIEND]...   ("hero place nothing"
                                                                           when none of the three)

The pronoun of a sentence ("she saw …") is resolved to the hero's name, and a summary uses
only the corpus's 28 characters, so the pre-trained character model needs no new token.

Chapter 6 feeds the model ``story + " tldr " + summary + "\\n"`` in a context of 256 characters;
a story whose example would be longer is left out (``info.json`` counts them). A validation or
test story that also occurs, verbatim, in the pre-training corpus or in this training split is left
out too (short stories repeat: the grammar has only so many of them), so every evaluation story
is new to the model: ``info.json`` counts those as well.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent
sys.path.insert(0, str(DATA))
from make_corpus import Choices, paragraph  # noqa: E402 - the corpus grammar, beside this folder

# the corpus used 2024 (and 2025 for its entropy)
SEEDS = {
    "train": 6001,
    "validation": 6002,
    "test": 6003,
}
SIZES = {"train": 4000, "validation": 300, "test": 300}  # stories kept per split
SEPARATOR, END = " tldr ", "\n"
CONTEXT = 256  # the pre-trained model's context: story + separator + summary + end ≤ CONTEXT + 1


def summarize(story: dict) -> str:
    """The reference summary of a story's record (hero, place, events) from
    ``make_corpus.paragraph``."""
    words = [story["hero"], story["place"]]
    for kind, *slots in story["events"]:
        if kind == "see":  # (adjective, animal)
            words += ["saw", slots[1]]
        elif kind == "find":  # (color, thing)
            words += ["found", slots[0], slots[1]]
        elif kind == "give":  # (thing, friend)
            words += ["gave", slots[0], "to", slots[1]]
    if len(words) == 2:
        words.append("nothing")
    return " ".join(words)


def example_length(story: str, summary: str) -> int:
    """Characters of the fine-tuning sequence: story, separator, summary, end."""
    return len(story) + len(SEPARATOR) + len(summary) + len(END)


def make_split(name: str, exclude: set) -> tuple:
    """``(rows, counts)``: SIZES[name] (story, summary) pairs, and how many stories were left out,
    and why."""
    c = Choices(np.random.default_rng(SEEDS[name]))
    rows, too_long, seen_before = [], 0, 0
    while len(rows) < SIZES[name]:
        record = {}
        story = paragraph(c, record).rstrip("\n")
        summary = summarize(record)
        if example_length(story, summary) > CONTEXT + 1:
            too_long += 1
        elif story in exclude:
            seen_before += 1
        else:
            rows.append((story, summary))
    return rows, {
        "drawn": len(rows) + too_long + seen_before,
        "too_long": too_long,
        "seen_in_pretraining_or_train": seen_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    corpus = set((DATA / "corpus" / "tiny_world.txt").read_text(encoding="utf-8").splitlines())
    train, train_counts = make_split("train", exclude=set())
    in_corpus = sum(story in corpus for story, _ in train)
    held_out = corpus | {story for story, _ in train}
    splits = {"train": train}
    counts = {"train": {**train_counts, "also_in_pretraining_corpus": in_corpus}}
    for name in ("validation", "test"):
        splits[name], counts[name] = make_split(name, exclude=held_out)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        text = "".join(f"{story}\t{summary}\n" for story, summary in rows)
        (args.out / f"{name}.tsv").write_text(text, encoding="utf-8")
    lengths = [example_length(s, m) for rows in splits.values() for s, m in rows]
    info = {
        "description": "tiny-world stories -> keyword summaries; see make_summaries.py",
        "format": "story<TAB>summary; model sequence = story + separator + summary + end",
        "separator": SEPARATOR,
        "end": END,
        "context": CONTEXT,
        "seeds": SEEDS,
        "sizes": {name: len(rows) for name, rows in splits.items()},
        "left_out": counts,
        "longest_example": max(lengths),
    }
    (args.out / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()

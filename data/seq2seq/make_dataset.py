"""Generate the chapter-2 translation task: English-like sentences -> "Zorbian", a made-up language.

Run from the repository root (it needs nothing but the standard library):

    python data/seq2seq/make_dataset.py [--out DIR]

and it rewrites ``train.tsv``, ``validation.tsv``, ``test.tsv``, ``lexicon.tsv`` and
``info.json`` next to itself (or in DIR). The output is identical on every machine (a fixed seed,
Python's own ``random``), so the files in the repository are exactly what this makes.

The source grammar (lower case, words separated by single spaces)::

    S   -> NP VT NP [ADV] | NP VI [ADV]
    NP  -> NAME | DET ADJ{0..2} NOUN [PREP NP']      (NP' is an NP without its own PP)

Zorbian translates every word through a one-to-one lexicon and reorders it:

* a noun phrase comes noun first, then its adjectives in reverse order, then the
  determiner: "the big red dog" -> DOG RED BIG THE;
* prepositions come after their noun phrase (postpositions), and a PP stays after the
  noun phrase it modifies: "the dog near a tree" -> DOG THE TREE A NEAR;
* the subject is followed by the particle "ne", the object by the particle "po";
* the verb goes last, after the adverb (subject-object-verb order):
  "the dog sees a cat today" -> DOG THE ne CAT A po TODAY SEES.

So a Zorbian sentence has the same content words as its source but in a different
order, and it is one token (intransitive) or two tokens (transitive) longer. The verb
has to be carried from the middle of the source to the very end of the target — the
kind of long-range dependency that strains a plain encoder-decoder, whose whole view
of the source is one fixed-size state.

Splits: every split has the same number of sentences of each source length, 3..15
words, so accuracy can be compared across lengths; no sentence appears in two splits.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 2024
MIN_LENGTH, MAX_LENGTH = 3, 15  # source words
PER_LENGTH = {"train": 1500, "validation": 30, "test": 120}
SUBJECT, OBJECT = "ne", "po"  # Zorbian case particles (no English counterpart)

NAMES = ["anna", "boris", "clara", "david", "elena", "felix", "greta", "hugo"]
DETERMINERS = ["the", "a", "my", "every"]
ADJECTIVES = [
    "big",
    "small",
    "red",
    "green",
    "blue",
    "old",
    "young",
    "happy",
    "sad",
    "tall",
    "quick",
    "lazy",
    "angry",
    "brave",
    "quiet",
    "hungry",
]
NOUNS = [
    "cat",
    "dog",
    "bird",
    "fish",
    "horse",
    "cow",
    "child",
    "teacher",
    "farmer",
    "doctor",
    "king",
    "queen",
    "man",
    "woman",
    "boy",
    "girl",
    "baby",
    "apple",
    "ball",
    "book",
    "house",
    "tree",
    "river",
    "car",
    "boat",
    "garden",
    "table",
    "door",
    "letter",
    "cake",
]
TRANSITIVE = [
    "sees",
    "likes",
    "chases",
    "finds",
    "holds",
    "carries",
    "eats",
    "follows",
    "calls",
    "pushes",
    "watches",
    "paints",
    "helps",
    "wants",
]
INTRANSITIVE = ["sleeps", "runs", "sings", "waits", "falls", "laughs", "swims", "dances"]
ADVERBS = ["quickly", "slowly", "today", "again", "often", "quietly", "yesterday", "never"]
PREPOSITIONS = ["near", "under", "behind", "with"]

CATEGORIES = {
    "name": NAMES,
    "det": DETERMINERS,
    "adj": ADJECTIVES,
    "noun": NOUNS,
    "vt": TRANSITIVE,
    "vi": INTRANSITIVE,
    "adv": ADVERBS,
    "prep": PREPOSITIONS,
}


def make_lexicon(rng: random.Random) -> dict:
    """English word -> a distinct made-up Zorbian word of two or three syllables."""
    onsets, vowels, codas = "bdfgklmnprstvz", "aeiou", ["", "", "", "n", "r", "sh"]
    taken = {SUBJECT, OBJECT}
    lexicon = {}
    for words in CATEGORIES.values():
        for word in words:
            while True:
                syllables = rng.choice((2, 2, 3))
                candidate = "".join(
                    rng.choice(onsets) + rng.choice(vowels) for _ in range(syllables)
                )
                candidate += rng.choice(codas)
                if candidate not in taken:
                    break
            taken.add(candidate)
            lexicon[word] = candidate
    return lexicon


def noun_phrase(rng: random.Random, allow_pp: bool) -> tuple:
    """(source words, target words in English order-of-translation) of one noun phrase."""
    if rng.random() < 0.15:
        name = rng.choice(NAMES)
        return [name], [name]
    det, noun = rng.choice(DETERMINERS), rng.choice(NOUNS)
    adjectives = rng.sample(ADJECTIVES, rng.choice((0, 0, 1, 1, 2)))
    source = [det, *adjectives, noun]
    target = [noun, *reversed(adjectives), det]
    if allow_pp and rng.random() < 0.3:
        prep = rng.choice(PREPOSITIONS)
        inner_source, inner_target = noun_phrase(rng, allow_pp=False)
        source += [prep, *inner_source]
        target += [*inner_target, prep]
    return source, target


def sentence(rng: random.Random) -> tuple:
    """One (source words, target words) pair; target words are still English, translated later."""
    subject_source, subject_target = noun_phrase(rng, allow_pp=True)
    adverb = [rng.choice(ADVERBS)] if rng.random() < 0.35 else []
    if rng.random() < 0.7:
        verb = rng.choice(TRANSITIVE)
        object_source, object_target = noun_phrase(rng, allow_pp=True)
        source = [*subject_source, verb, *object_source, *adverb]
        target = [*subject_target, SUBJECT, *object_target, OBJECT, *adverb, verb]
    else:
        verb = rng.choice(INTRANSITIVE)
        source = [*subject_source, verb, *adverb]
        target = [*subject_target, SUBJECT, *adverb, verb]
    return source, target


def translate(words: list, lexicon: dict) -> list:
    return [lexicon.get(word, word) for word in words]


def make_splits(rng: random.Random, lexicon: dict) -> dict:
    """Sample each split length by length; validation and test sentences are distinct and never in
    train.

    Short sentences are few (a few thousand distinct ones of 3 words), so the training split
    may repeat one; the held-out splits never do, and never share a sentence with training.
    """
    splits = {name: [] for name in PER_LENGTH}
    for length in range(MIN_LENGTH, MAX_LENGTH + 1):
        held_out = set()
        for split in ("test", "validation", "train"):
            rows, tries = [], 0
            while len(rows) < PER_LENGTH[split]:
                tries += 1
                if tries > 1_000_000:
                    raise RuntimeError(
                        f"could not draw {PER_LENGTH[split]} {split} sentences of length {length}"
                    )
                source, target = sentence(rng)
                text = " ".join(source)
                if len(source) != length or text in held_out:
                    continue
                if split != "train":
                    held_out.add(text)
                rows.append((text, " ".join(translate(target, lexicon))))
            splits[split] += rows
    for rows in splits.values():
        rng.shuffle(rows)
    return splits


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="Generate the English -> Zorbian translation task."
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output folder (default: next to this script)"
    )
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    lexicon = make_lexicon(rng)
    splits = make_splits(rng, lexicon)
    for name, rows in splits.items():
        (out / f"{name}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    lexicon_rows = [
        f"{word}\t{lexicon[word]}\t{category}\n"
        for category, words in CATEGORIES.items()
        for word in words
    ]
    (out / "lexicon.tsv").write_text("".join(lexicon_rows), encoding="utf-8")
    info = {
        "description": "English-like sentences -> Zorbian (made-up SOV language); see "
        "make_dataset.py",
        "seed": SEED,
        "source_lengths": [MIN_LENGTH, MAX_LENGTH],
        "per_length": PER_LENGTH,
        "sizes": {name: len(rows) for name, rows in splits.items()},
        "particles": {"subject": SUBJECT, "object": OBJECT},
    }
    (out / "info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(info["sizes"]))


if __name__ == "__main__":
    main()

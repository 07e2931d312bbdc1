"""Generate the course's text corpus, "tiny world": short stories from a probabilistic grammar.

    python data/make_corpus.py            # writes data/corpus/tiny_world.txt and .json

The text is the project's own (nothing is downloaded). Every random choice the
grammar makes is visible in the text (no two choice sequences give the same
paragraph: each slot's words are distinct, and templates start differently), so
the entropy of a paragraph equals the entropy of its choices. The script
estimates the corpus's true entropy rate in nats per character — the lowest
cross-entropy any model can reach — by averaging -log p(choices) over many
sampled paragraphs, and writes it, with its standard error, to the .json file.

Structure a model can learn, from short to long range: spelling, word order,
agreement (a character's pronoun follows their name), and a paragraph keeps
its hero and place.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

HEROES = {  # name -> pronoun
    "mia": "she", "tom": "he", "ava": "she", "leo": "he", "zoe": "she",
    "sam": "he", "ivy": "she", "max": "he", "lily": "she", "ben": "he",
}
PLACES = ["forest", "river", "market", "garden", "castle", "harbor", "meadow", "library"]
ANIMALS = ["cat", "dog", "fox", "owl", "frog", "horse", "rabbit", "duck"]
ADJECTIVES = ["small", "quiet", "happy", "clever", "sleepy", "brave", "old", "tiny"]
COLORS = ["red", "blue", "green", "yellow", "brown", "white"]
THINGS = ["ball", "book", "kite", "hat", "lamp", "key", "apple", "cake"]
FEELINGS = ["glad", "tired", "proud", "hungry", "curious", "calm"]
WEATHER = ["sunny", "rainy", "windy", "cold", "warm"]
COUNTS = ["two", "three", "four", "five"]


class Choices:
    """Draws choices and adds up their log-probabilities (nats)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.log_prob = 0.0

    def pick(self, options, weights=None):
        p = np.full(len(options), 1 / len(options)) if weights is None else np.asarray(weights, float) / sum(weights)
        i = self.rng.choice(len(options), p=p)
        self.log_prob += math.log(p[i])
        return options[i]


def sentence(c: Choices, hero: str, place: str) -> str:
    pronoun = HEROES[hero]
    possessive = "her" if pronoun == "she" else "his"
    kind = c.pick(["see", "find", "feel", "weather", "count", "give"], [3, 3, 2, 1, 2, 2])
    if kind == "weather":
        return f"it was {c.pick(WEATHER)} at the {place}."
    who = c.pick([hero, pronoun])  # the subject: the hero's name or their pronoun
    if kind == "see":
        return f"{who} saw a {c.pick(ADJECTIVES)} {c.pick(ANIMALS)} near the {place}."
    if kind == "find":
        return f"{who} found a {c.pick(COLORS)} {c.pick(THINGS)} and took it home."
    if kind == "feel":
        return f"{who} felt {c.pick(FEELINGS)} because the day was {c.pick(WEATHER)}."
    if kind == "count":
        return f"{who} counted {c.pick(COUNTS)} {c.pick(ANIMALS)}s in the {place}."
    friend = c.pick([h for h in HEROES if h != hero])
    return f"{who} gave {possessive} {c.pick(THINGS)} to {friend}."


def paragraph(c: Choices) -> str:
    hero = c.pick(list(HEROES))
    place = c.pick(PLACES)
    opening = f"one day {hero} went to the {place}."
    n_more = c.pick([1, 2, 3, 4])
    sentences = [opening] + [sentence(c, hero, place) for _ in range(n_more)]
    ending = c.pick(["the end.", f"then {hero} went home.", f"{HEROES[hero]} liked the {place}."])
    return " ".join(sentences + [ending]) + "\n"


def entropy_rate(seed: int, samples: int) -> tuple:
    """Monte-Carlo estimate of E[-log p(paragraph)] / E[len(paragraph)] in nats per character."""
    c = Choices(np.random.default_rng(seed))
    nats, chars = np.empty(samples), np.empty(samples)
    for i in range(samples):
        c.log_prob = 0.0
        chars[i] = len(paragraph(c))
        nats[i] = -c.log_prob
    rate = nats.mean() / chars.mean()
    # delta-method standard error of a ratio of means
    cov = np.cov(nats, chars)
    grad = np.array([1 / chars.mean(), -nats.mean() / chars.mean() ** 2])
    stderr = math.sqrt(grad @ cov @ grad / samples)
    return float(rate), float(stderr)


def generate(n_chars: int, seed: int) -> str:
    c = Choices(np.random.default_rng(seed))
    parts, total = [], 0
    while total < n_chars:
        parts.append(paragraph(c))
        total += len(parts[-1])
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=1_200_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "corpus" / "tiny_world.txt")
    args = parser.parse_args()
    text = generate(args.chars, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    rate, stderr = entropy_rate(args.seed + 1, 200_000)
    info = {
        "file": args.out.name,
        "characters": len(text),
        "paragraphs": text.count("\n"),
        "seed": args.seed,
        "entropy_rate_nats_per_char": round(rate, 5),
        "entropy_rate_stderr": round(stderr, 5),
        "note": "lowest achievable cross-entropy (nats/char) of any model of this text",
    }
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()

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
    "mia": "she",
    "tom": "he",
    "ava": "she",
    "leo": "he",
    "zoe": "she",
    "sam": "he",
    "ivy": "she",
    "max": "he",
    "lily": "she",
    "ben": "he",
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
        p = (
            np.full(len(options), 1 / len(options))
            if weights is None
            else np.asarray(weights, float) / sum(weights)
        )
        i = self.rng.choice(len(options), p=p)
        self.log_prob += math.log(p[i])
        return options[i]


def sentence(c: Choices, hero: str, place: str, events: list | None = None) -> str:
    """One sentence about ``hero`` at ``place``; its event, as a tuple of words, is appended to
    ``events``.

    Events: ("weather", w), ("see", adjective, animal), ("find", color, thing), ("feel", feeling,
    w), ("count", number, animal), ("give", thing, friend). Recording them draws nothing, so the
    text is the same with or without ``events``.
    """
    events = [] if events is None else events
    pronoun = HEROES[hero]
    possessive = "her" if pronoun == "she" else "his"
    kind = c.pick(["see", "find", "feel", "weather", "count", "give"], [3, 3, 2, 1, 2, 2])
    if kind == "weather":
        events.append(("weather", c.pick(WEATHER)))
        return f"it was {events[-1][1]} at the {place}."
    who = c.pick([hero, pronoun])  # the subject: the hero's name or their pronoun
    if kind == "see":
        events.append(("see", c.pick(ADJECTIVES), c.pick(ANIMALS)))
        return f"{who} saw a {events[-1][1]} {events[-1][2]} near the {place}."
    if kind == "find":
        events.append(("find", c.pick(COLORS), c.pick(THINGS)))
        return f"{who} found a {events[-1][1]} {events[-1][2]} and took it home."
    if kind == "feel":
        events.append(("feel", c.pick(FEELINGS), c.pick(WEATHER)))
        return f"{who} felt {events[-1][1]} because the day was {events[-1][2]}."
    if kind == "count":
        events.append(("count", c.pick(COUNTS), c.pick(ANIMALS)))
        return f"{who} counted {events[-1][1]} {events[-1][2]}s in the {place}."
    friend = c.pick([h for h in HEROES if h != hero])
    events.append(("give", c.pick(THINGS), friend))
    return f"{who} gave {possessive} {events[-1][1]} to {friend}."


def paragraph(c: Choices, story: dict | None = None) -> str:
    """One story, ending with a newline. ``story``, when given, receives its hero, place and
    events."""
    story = {} if story is None else story
    hero = c.pick(list(HEROES))
    place = c.pick(PLACES)
    story.update(hero=hero, place=place, events=[])
    opening = f"one day {hero} went to the {place}."
    n_more = c.pick([1, 2, 3, 4])
    sentences = [opening] + [sentence(c, hero, place, story["events"]) for _ in range(n_more)]
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
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "corpus" / "tiny_world.txt"
    )
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

"""Data the chapters train on. Nothing here downloads: datasets ship in `data/` or inside a wheel.

- :func:`load_breast_cancer_split` — scikit-learn's breast-cancer set (in its wheel), standardised
- :func:`make_2d_dataset` — small 2-D sets for decision boundaries (xor, moons, circles, blobs)
- :func:`make_redundant_features_dataset` — Gaussian features, three of them one measurement
  repeated (naive Bayes's trap)
- :func:`load_text` — the course corpus, or any UTF-8 text file of the learner's, checked
- :func:`load_digits_split` — scikit-learn's 8×8 digits (in its wheel), pixels in [0, 1]
- :func:`load_translation_data` — chapter 2's English→French task (`data/seq2seq/`)
- :func:`load_pretrained_gpt` — the mini GPT pre-trained for chapters 6 and 7 (`data/pretrained/`)
- :func:`load_summaries` — chapter 6's story → summary task (`data/summaries/`)
- :func:`load_finetuned_summariser` — chapter 6's long fine-tuning runs, one per arm
(`data/finetuned/`)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyllm.tokenizers import PAD_ID, START_ID, Vocabulary
from tinyllm.validation import require_positive_int

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CORPUS_PATH = DATA_DIR / "corpus" / "tiny_world.txt"


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list


def load_breast_cancer_split(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """Wisconsin breast-cancer data (569 × 30), stratified split, standardised with train
    statistics.

    Labels: 1 = benign, 0 = malignant (scikit-learn's coding). Features are
    float32 with zero mean and unit variance on the training split only, so
    nothing about the test split leaks into training.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=test_fraction, random_state=seed, stratify=data.target
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    scale = lambda x: ((x - mean) / std).astype(np.float32)  # noqa: E731
    return Split(
        scale(x_train),
        y_train.astype(np.float32),
        scale(x_test),
        y_test.astype(np.float32),
        list(data.feature_names),
    )


def make_2d_dataset(name: str, n: int = 400, noise: float = 0.1, seed: int = 0) -> tuple:
    """``(x (n, 2) float32, y (n,) float32 in {0, 1})`` for ``name`` in xor, moons, circles, blobs.

    Only ``blobs`` is linearly separable; the other three need a non-linear boundary.
    """
    from sklearn.datasets import make_blobs, make_circles, make_moons

    rng = np.random.default_rng(seed)
    if name == "xor":
        x = rng.uniform(-1, 1, size=(n, 2))
        y = (x[:, 0] * x[:, 1] > 0).astype(int)
        x = x + rng.normal(0, noise, size=x.shape)
    elif name == "moons":
        x, y = make_moons(n, noise=noise, random_state=seed)
    elif name == "circles":
        x, y = make_circles(n, noise=noise, factor=0.5, random_state=seed)
    elif name == "blobs":
        x, y = make_blobs(n, centers=[(-1, -1), (1, 1)], cluster_std=0.5 + noise, random_state=seed)
    else:
        raise ValueError(f"unknown 2-D dataset {name!r}; choose one of xor, moons, circles, blobs")
    return x.astype(np.float32), y.astype(np.float32)


REDUNDANT_INDEPENDENT, REDUNDANT_COPIES = 20, 3
REDUNDANT_SHIFT, REDUNDANT_LATENT_SHIFT, REDUNDANT_COPY_NOISE = 0.3, 0.4, 0.3


def make_redundant_features_dataset(n: int, seed: int = 0) -> tuple:
    """``(x (n, 23) float32, y (n,) float32 in {0, 1})``: independent features plus one repeated
    measurement.

    Drawn as follows, with s = 2y − 1 = ±1:

    - y is a fair coin flip;
    - features 0 … 19 are independent given y, each x_j ~ N(0.3 s, 1);
    - a latent z ~ N(0.4 s, 1), independent of them, is measured three times:
      features 20, 21, 22 are z + N(0, 0.3²), with independent noise.

    The three copies carry one weak piece of evidence, yet given y they are
    correlated (1 / 1.09 ≈ 0.92), so naive Bayes, which multiplies them as if
    independent, counts it three times. The classes are Gaussians with one shared
    covariance, so the best classifier is linear: logistic regression can reach it.
    """
    n = require_positive_int(n, "n")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    sign = (2 * y - 1)[:, None]
    independent = rng.normal(REDUNDANT_SHIFT * sign, 1.0, size=(n, REDUNDANT_INDEPENDENT))
    latent = rng.normal(REDUNDANT_LATENT_SHIFT * sign, 1.0, size=(n, 1))
    copies = latent + rng.normal(0.0, REDUNDANT_COPY_NOISE, size=(n, REDUNDANT_COPIES))
    return np.hstack([independent, copies]).astype(np.float32), y.astype(np.float32)


def load_text(path=None, min_chars: int = 2) -> str:
    """Read a UTF-8 text file (default: the course corpus) with clear errors for bad files.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for a
    directory, an empty file, a file that is not UTF-8 (naming the byte
    offset) or one shorter than ``min_chars`` characters.
    """
    path = CORPUS_PATH if path is None else Path(path)
    if not path.exists():
        raise FileNotFoundError(f"text file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a text file")
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError(f"{path} is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (invalid byte 0x{raw[error.start]:02x} at offset "
            f"{error.start}); "
            "re-save it as UTF-8"
        ) from None
    text = text.lstrip("\ufeff")  # a byte-order mark is not part of the text
    if len(text) < min_chars:
        raise ValueError(f"{path} has {len(text)} characters; at least {min_chars} are needed")
    return text


def corpus_info() -> dict:
    """Size and true entropy rate (nats/char) of the course corpus, from `data/make_corpus.py`."""
    return json.loads(CORPUS_PATH.with_suffix(".json").read_text(encoding="utf-8"))


SEQ2SEQ_DIR = DATA_DIR / "seq2seq"


@dataclass
class TranslationSplit:
    """One split as text and as padded int arrays (b sentences).

    encoder_inputs (b, S)   source ids, right-padded with 0
    decoder_inputs (b, T)   <start> y_1 … y_{T−1}: the targets shifted right (teacher forcing)
    targets        (b, T)   y_1 … y_n <end>, right-padded with 0
    source_lengths (b,)     words in each source sentence
    """

    sources: list
    references: list
    encoder_inputs: np.ndarray
    decoder_inputs: np.ndarray
    targets: np.ndarray
    source_lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def target_mask(self) -> np.ndarray:
        """(b, T) float32: 1 where the target is a real token (words and <end>), 0 on padding."""
        return (self.targets != PAD_ID).astype(np.float32)


@dataclass
class TranslationData:
    """The chapter's task: ``train``, ``validation``, ``test`` splits and the two vocabularies."""

    train: TranslationSplit
    validation: TranslationSplit
    test: TranslationSplit
    source_vocab: Vocabulary
    target_vocab: Vocabulary


def read_tsv_pairs(
    path, names: tuple = ("source", "target"), script: str = "data/seq2seq/make_dataset.py"
) -> tuple:
    """``(firsts, seconds)`` from a ``first<TAB>second`` file, one pair a line; the errors name the
    file, the line, the two fields (``names``) and the ``script`` that writes the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path} (make it with {script})")
    firsts, seconds = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise ValueError(
                f"{path.name} line {number}: expected '{names[0]}<TAB>{names[1]}', got "
                f"{line[:60]!r}"
            )
        firsts.append(parts[0])
        seconds.append(parts[1])
    return firsts, seconds


def read_pairs(path) -> tuple:
    """(sources, targets) of chapter 2's sentence pairs (``source<TAB>target``)."""
    return read_tsv_pairs(path)


def make_split(
    sources, references, source_vocab: Vocabulary, target_vocab: Vocabulary
) -> TranslationSplit:
    """Encode a list of sentence pairs into a :class:`TranslationSplit` of padded arrays."""
    encoder_inputs = source_vocab.encode_batch(sources)
    targets = target_vocab.encode_batch(references, add_end=True)
    # Teacher forcing inputs: <start> followed by the targets minus their last column.
    decoder_inputs = np.concatenate(
        [np.full((len(targets), 1), START_ID, np.int32), targets[:, :-1]], axis=1
    )
    lengths = (encoder_inputs != PAD_ID).sum(axis=1).astype(np.int32)
    return TranslationSplit(
        list(sources), list(references), encoder_inputs, decoder_inputs, targets, lengths
    )


def load_translation_data(directory=None, train_size: int | None = None) -> TranslationData:
    """Load the English → Zorbian task of ``data/seq2seq`` (see its ``make_dataset.py``).

    The vocabularies and maximum lengths come from the training split only (S = 15
    source words, T = 17 target words + <end> = 18; 95 source and 97 target ids). ``train_size``
    keeps the first that many training pairs (the file is shuffled), for quick experiments.
    """
    directory = SEQ2SEQ_DIR if directory is None else Path(directory)
    train_sources, train_targets = read_pairs(directory / "train.tsv")
    if train_size is not None:
        train_size = require_positive_int(train_size, "train_size")
        train_sources, train_targets = train_sources[:train_size], train_targets[:train_size]
    source_vocab = Vocabulary.from_sentences(train_sources, name="source sentence")
    target_vocab = Vocabulary.from_sentences(train_targets, name="target sentence")
    splits = {"train": make_split(train_sources, train_targets, source_vocab, target_vocab)}
    for name in ("validation", "test"):
        splits[name] = make_split(
            *read_pairs(directory / f"{name}.tsv"), source_vocab, target_vocab
        )
    return TranslationData(**splits, source_vocab=source_vocab, target_vocab=target_vocab)


def load_lexicon(directory=None) -> dict:
    """English word → (Zorbian word, category) from ``lexicon.tsv``."""
    directory = SEQ2SEQ_DIR if directory is None else Path(directory)
    rows = [
        line.split("\t")
        for line in (directory / "lexicon.tsv").read_text(encoding="utf-8").splitlines()
    ]
    return {english: (zorbian, category) for english, zorbian, category in rows}


def load_digits_split(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn's 8×8 handwritten digits (1797 images, in its wheel), pixels scaled to [0, 1].

    Returns a :class:`course.data.Split` with ``x_*`` float32 of shape (n, 64)
    (row-major 8×8 images; pixel values 0..16 divided by 16), ``y_*`` int64
    digit labels 0–9, a stratified split (1347 train / 450 test by default).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=test_fraction, random_state=seed, stratify=data.target
    )
    return Split(
        x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64), list(data.feature_names)
    )


PRETRAINED_DIR = DATA_DIR / "pretrained"


@dataclass
class PretrainedGPT:
    """The mini GPT that chapters 6 and 7 start from (``data/pretrained/make_pretrained.py``).

    model      a built :class:`tinyllm.gpt.GPT` holding the pre-trained weights
    tokenizer  the :class:`tinyllm.tokenizers.CharTokenizer` of the course corpus it was trained on
    config     its :class:`tinyllm.gpt.GPTConfig`
    info       how it was made and what it reached (steps, batch, val_loss in nats/char, …)
    """

    model: object
    tokenizer: object
    config: object
    info: dict


def load_pretrained_gpt(directory=None, name: str = "tiny_world_gpt") -> PretrainedGPT:
    """A fresh copy of the shipped pre-trained mini GPT (each call builds a new model).

    Raises ``FileNotFoundError`` naming the missing file and the script that makes it, and
    ``ValueError`` when the record's vocabulary is not the course corpus's.
    """
    from tinyllm.gpt import GPT, GPTConfig
    from tinyllm.tokenizers import CharTokenizer

    directory = PRETRAINED_DIR if directory is None else Path(directory)
    record_path, weights_path = directory / f"{name}.json", directory / f"{name}.weights.h5"
    for path in (record_path, weights_path):
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found; make it with `python data/pretrained/make_pretrained.py`"
            )
    info = json.loads(record_path.read_text(encoding="utf-8"))
    tokenizer = CharTokenizer(load_text())
    if "".join(tokenizer.vocabulary) != info["vocabulary"]:
        raise ValueError(
            f"{record_path} was trained with the vocabulary {info['vocabulary']!r}, but the course "
            f"corpus has {''.join(tokenizer.vocabulary)!r}"
        )
    config = GPTConfig(**info["model"])
    model = GPT(config)
    model.load_weights(weights_path)
    return PretrainedGPT(model, tokenizer, config, info)


FINETUNED_DIR = DATA_DIR / "finetuned"
SUMMARISER_ARMS = ("full", "lora", "unmasked", "random")


def load_finetuned_summariser(arm: str, directory=None) -> PretrainedGPT:
    """Chapter 6's long fine-tuning run of one arm (``data/finetuned/make_finetuned.py``), as a
    fresh model.

    ``arm`` is one of :data:`SUMMARISER_ARMS`; ``info`` holds that arm's record (learning rate
    chosen on validation, every seed's test scores and curve) plus the run's shared settings. LoRA's
    weights were saved with the adapter merged into the kernels, so every arm loads into the plain
    GPT.
    """
    from tinyllm.gpt import GPT

    if arm not in SUMMARISER_ARMS:
        raise ValueError(f"unknown arm {arm!r}; expected one of {', '.join(SUMMARISER_ARMS)}")
    directory = FINETUNED_DIR if directory is None else Path(directory)
    record_path, weights_path = (
        directory / "summarisers.json",
        directory / f"summariser_{arm}.weights.h5",
    )
    for path in (record_path, weights_path):
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found; make it with `python data/finetuned/make_finetuned.py`"
            )
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if arm not in record.get("arms", {}):
        raise ValueError(f"{record_path} has no record of the arm {arm!r}")
    pre = load_pretrained_gpt()
    model = GPT(pre.config)
    model.load_weights(weights_path)
    info = {key: value for key, value in record.items() if key != "arms"} | record["arms"][arm]
    return PretrainedGPT(model, pre.tokenizer, pre.config, info)


SUMMARIES_DIR = DATA_DIR / "summaries"


@dataclass
class SummarySplit:
    """One split of chapter 6's task: ``stories[i]`` (no newline) and its reference
    ``summaries[i]``."""

    stories: list
    summaries: list

    def __len__(self) -> int:
        return len(self.stories)


@dataclass
class SummaryData:
    """Chapter 6's summarisation task (``data/summaries/make_summaries.py``): three splits and how
    they were made."""

    train: SummarySplit
    validation: SummarySplit
    test: SummarySplit
    info: dict


def read_summaries(path) -> SummarySplit:
    """Chapter 6's ``story<TAB>summary`` file."""
    stories, summaries = read_tsv_pairs(
        path, ("story", "summary"), "data/summaries/make_summaries.py"
    )
    if not stories:
        raise ValueError(f"{path} holds no stories")
    return SummarySplit(stories, summaries)


def load_summaries(directory=None) -> SummaryData:
    """Load chapter 6's train / validation / test stories and summaries, and ``info.json``."""
    directory = SUMMARIES_DIR if directory is None else Path(directory)
    splits = {
        name: read_summaries(directory / f"{name}.tsv") for name in ("train", "validation", "test")
    }
    info_path = directory / "info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    return SummaryData(**splits, info=info)

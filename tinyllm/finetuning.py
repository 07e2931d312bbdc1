"""Chapter 6 — supervised fine-tuning (SFT) of a pre-trained GPT: examples with a loss mask, the
masked training step, greedy decoding to an end token, exact match and ROUGE-L, and LoRA.

    s = prompt + response + [end], padded to length + 1        one example
    inputs = s[:−1], targets = s[1:]                            teacher forcing, as in pre-training
    m_i = 1 where targets_i is a response or the end token      the loss mask; 0 on prompt and
                                                                padding
    L = Σ_i m_i · (−log p(targets_i | inputs_≤i)) / Σ_i m_i    mean over the response tokens of
                                                                the batch

LoRA (Hu et al., 2021) freezes a Dense kernel W (d_in, d_out) and learns a low-rank change:
    y = x W + (α / r) · (x A) B,   A (d_in, r), B (r, d_out), B = 0 at the start
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tinyllm.sampling import compiled, generate, inference_logits
from tinyllm.validation import as_array, require_positive_int


@dataclass
class SFTData:
    """Fine-tuning examples as arrays: inputs, targets (n, length) int32, loss_mask (n, length)
    float32, and prompt_lengths (n,): where each prompt ends (the decoder starts writing there)."""

    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    prompt_lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)

    def take(self, count: int) -> "SFTData":
        """The first ``count`` examples."""
        return SFTData(
            self.inputs[:count],
            self.targets[:count],
            self.loss_mask[:count],
            self.prompt_lengths[:count],
        )


def sft_examples(
    prompts, responses, end_id: int, pad_id: int, length: int, mask_prompt: bool = True
) -> SFTData:
    """Lists of prompt and response id arrays → :class:`SFTData` of ``length`` positions.

    Row i is s = prompt_i + response_i + [end_id] padded with ``pad_id`` to length + 1;
    inputs = s[:−1], targets = s[1:], and the loss mask is 1 exactly where the target is a
    response token or the end token. With ``mask_prompt=False`` it is 1 on every real target,
    prompt included (the language-model loss of pre-training); padding stays 0. A ``ValueError``
    names the first example that does not fit.
    """
    length = require_positive_int(length, "length")
    if len(prompts) != len(responses):
        raise ValueError(
            f"got {len(prompts)} prompts and {len(responses)} responses; they must pair up"
        )
    sequences = np.full((len(prompts), length + 1), pad_id, np.int32)
    mask = np.zeros((len(prompts), length), np.float32)
    prompt_lengths = np.zeros(len(prompts), np.int32)
    for i, (prompt, response) in enumerate(zip(prompts, responses)):
        prompt = as_array(prompt, f"prompts[{i}]", ndim=1, dtype="int")
        response = as_array(response, f"responses[{i}]", ndim=1, dtype="int")
        if len(prompt) == 0:
            raise ValueError(
                f"prompts[{i}] is empty: the model needs at least one token to condition on"
            )
        total = len(prompt) + len(response) + 1
        if total > length + 1:
            raise ValueError(
                f"example {i} has {total} tokens (prompt {len(prompt)}, response {len(response)}, "
                f"end 1), more than length + 1 = {length + 1}"
            )
        sequences[i, :total] = np.concatenate([prompt, response, [end_id]])
        # targets[j] = s[j+1]: the response starts at j = len(prompt) − 1
        first = len(prompt) - 1 if mask_prompt else 0
        mask[i, first : total - 1] = 1.0
        prompt_lengths[i] = len(prompt)
    return SFTData(sequences[:, :-1], sequences[:, 1:], mask, prompt_lengths)


def task_examples(
    tokenizer,
    stories,
    summaries,
    length: int,
    separator: str = " tldr ",
    end: str = "\n",
    mask_prompt: bool = True,
) -> SFTData:
    """The summarisation task as :class:`SFTData`: prompt = story + separator, response = summary,
    then ``end``.

    Padding uses the end token's id: the causal mask keeps padding from reaching any real
    position, and the loss mask gives it weight 0, so no new ``<pad>`` token is needed.
    """
    end_id = int(tokenizer.encode(end)[0])
    prompts = [tokenizer.encode(story + separator) for story in stories]
    responses = [tokenizer.encode(summary) for summary in summaries]
    return sft_examples(prompts, responses, end_id, end_id, length, mask_prompt)


class FineTuner:
    """One model, one AdamW optimizer and one XLA-compiled masked training step, for several runs.

    The learning rate rises linearly from 0 to ``learning_rate`` over ``warmup_steps`` steps (Adam's
    first updates, made from poor second-moment estimates, stay small), then falls to 0 along a
    cosine over the remaining steps (a fixed budget ends on small, quiet steps). ``start(weights)``
    puts new weights in the model (a list as ``model.get_weights()`` gives) and the optimizer back
    to its first step, so the next run reuses the compiled step: compiling costs seconds, a step a
    fraction of one.
    ``train(data, steps, batch_size, seed)`` runs one fine-tuning run. Only
    ``model.trainable_variables`` change (LoRA freezes the rest). The loss is Keras's cross-entropy
    weighted by the loss mask and divided by its sum: Σ m · CE / Σ m, the mean over the response
    tokens.
    """

    def __init__(
        self,
        model,
        learning_rate: float,
        steps: int,
        warmup_steps: int = 0,
        weight_decay: float = 0.0,
        jit_compile: bool = True,
    ):
        self.model = model
        steps = require_positive_int(steps, "steps")
        if not 0 <= warmup_steps < steps:
            raise ValueError(f"warmup_steps must be in [0, steps = {steps}), got {warmup_steps}")
        if warmup_steps:
            schedule = keras.optimizers.schedules.CosineDecay(
                0.0, steps - warmup_steps, warmup_target=learning_rate, warmup_steps=warmup_steps
            )
        else:
            schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
        self.schedule = schedule  # step → learning rate
        self.optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
        self.optimizer.build(model.trainable_variables)
        self._fresh_optimizer = [v.numpy() for v in self.optimizer.variables]
        self.loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        )

        @tf.function(jit_compile=jit_compile)
        def step(inputs, targets, loss_mask):
            with tf.GradientTape() as tape:
                loss = self.loss(targets, model(inputs, training=True), sample_weight=loss_mask)
            gradients = tape.gradient(loss, model.trainable_variables)
            # the tied embedding's gradient sums a sparse lookup part and a dense output-layer part
            gradients = [tf.convert_to_tensor(g) for g in gradients]
            self.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        self.step = step

    def start(self, weights=None) -> None:
        """Start a new run: the given model weights (or the current ones) and a fresh optimizer."""
        if weights is not None:
            self.model.set_weights(weights)
        for variable, value in zip(self.optimizer.variables, self._fresh_optimizer):
            variable.assign(value)

    def train(
        self,
        data: SFTData,
        steps: int,
        batch_size: int = 16,
        seed: int = 0,
        every: int | None = None,
        evaluate=None,
    ) -> list:
        """``steps`` masked training steps on batches drawn epoch by epoch from ``data``.

        Each epoch visits every example once in a random order (NumPy, ``seed``). Every
        ``every`` steps it prints the mean training loss since the last print and, when given,
        ``evaluate()`` (a dict of numbers). Returns one record per print: step, examples
        seen, loss, and the evaluation.
        """
        steps, batch_size = (
            require_positive_int(steps, "steps"),
            require_positive_int(batch_size, "batch_size"),
        )
        if len(data) < batch_size:
            raise ValueError(f"{len(data)} examples are fewer than one batch of {batch_size}")
        rng = np.random.default_rng(seed)
        order, losses, history = np.empty(0, np.int64), [], []
        for step in range(1, steps + 1):
            if len(order) < batch_size:
                order = np.concatenate([order, rng.permutation(len(data))])
            rows, order = order[:batch_size], order[batch_size:]
            losses.append(
                float(self.step(data.inputs[rows], data.targets[rows], data.loss_mask[rows]))
            )
            if every and (step % every == 0 or step == steps):
                record = {
                    "step": step,
                    "examples": step * batch_size,
                    "loss": float(np.mean(losses)),
                }
                record.update(evaluate() if evaluate else {})
                history.append(record)
                losses = []
                print(
                    "  "
                    + ", ".join(
                        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in record.items()
                    )
                )
        return history


def forward_logits(model, token_ids) -> np.ndarray:
    """The model's logits (b, t, v) as NumPy, through chapter 5's compiled forward pass."""
    forward = compiled(model, inference_logits, tf.TensorSpec([None, None], tf.int32))
    return forward(tf.convert_to_tensor(token_ids, tf.int32)).numpy()


def teacher_forced_argmax(model, data: SFTData, batch_size: int = 64) -> np.ndarray:
    """(n, length) ints: the model's most likely next token at every position of ``data.inputs``."""
    return np.concatenate(
        [
            forward_logits(model, data.inputs[first : first + batch_size]).argmax(-1)
            for first in range(0, len(data), batch_size)
        ]
    )


def teacher_forced_exact_match(model, data: SFTData, batch_size: int = 64) -> np.ndarray:
    """(n,) bool: True where the argmax at every masked position equals the target.

    These are exactly the rows that greedy decoding gets right, summary and end token (ties
    of two logits aside): greedy decoding writes argmax tokens, and as long as they equal
    the reference, the prefix it conditions on is the teacher-forced one. One forward pass
    instead of one per generated token.
    """
    predicted = teacher_forced_argmax(model, data, batch_size)
    return ~((predicted != data.targets) & (data.loss_mask > 0)).any(axis=1)


def greedy_decode(model, prompts, end_id: int, max_new_tokens, batch_size: int = 64) -> list:
    """Greedy continuations of ``prompts`` (a list of id arrays) up to ``end_id``, which is left
    out.

    Chapter 5's :func:`generate` continues a rectangular batch, so prompts of one length are
    decoded together (``batch_size`` at a time), at ``temperature=0`` and with ``stop_id=end_id``:
    a row ends when it writes ``end_id``, after ``max_new_tokens`` tokens (an int, or one per
    prompt) or at the model's context. No KV cache: every step reads the whole prefix again.
    """
    budgets = np.broadcast_to(np.asarray(max_new_tokens, np.int64), (len(prompts),))
    if budgets.size and budgets.min() < 0:
        raise ValueError(f"max_new_tokens must be ≥ 0, got {budgets.min()}")
    prompts = [as_array(p, "prompt", ndim=1, dtype="int").astype(np.int32) for p in prompts]
    by_length = {}
    for i, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"prompt {i} is empty: every prompt needs at least one token")
        if len(prompt) > model.config.sequence_length:
            raise ValueError(
                f"prompt {i} has {len(prompt)} tokens, longer than the context, "
                f"{model.config.sequence_length}"
            )
        by_length.setdefault(len(prompt), []).append(i)
    outputs = [None] * len(prompts)
    for length, rows in by_length.items():
        for first in range(0, len(rows), batch_size):
            group = rows[first : first + batch_size]
            steps = min(budgets[group].max(), model.config.sequence_length - length)
            ids = generate(
                model, np.stack([prompts[i] for i in group]), steps, temperature=0, stop_id=end_id
            )
            for i, written in zip(group, ids[:, length : length + steps]):
                written = written[: budgets[i]]
                ends = np.flatnonzero(written == end_id)
                outputs[i] = written[: ends[0]] if len(ends) else written
    return outputs


def greedy_decode_from_agreement(
    model, data: SFTData, end_id: int, max_new_tokens: int, batch_size: int = 64
) -> list:
    """The same responses as :func:`greedy_decode` on the prompts of ``data``, for less compute.

    One teacher-forced pass finds, in every row, the first response position where the
    argmax differs from the reference. Up to there greedy decoding would write the
    reference itself; so it starts at that position, with the reference prefix and the
    argmax token, and rows with no difference (exact matches) are not decoded at all.
    """
    max_new_tokens = require_positive_int(max_new_tokens, "max_new_tokens")
    predicted = teacher_forced_argmax(model, data, batch_size)
    done, prompts, budgets, pending = {}, [], [], []
    for i in range(len(data)):
        p = int(data.prompt_lengths[i])
        # the targets s[p] … s[n−1]: response then end
        positions = np.flatnonzero(data.loss_mask[i])
        wrong = positions[predicted[i, positions] != data.targets[i, positions]]
        stop = wrong[0] if len(wrong) else positions[-1]
        agreed = list(data.targets[i, p - 1 : stop])  # reference tokens greedy decoding reproduces
        token = int(predicted[i, stop])
        if token == end_id or len(agreed) >= max_new_tokens:
            done[i] = np.array(agreed[:max_new_tokens], np.int32)
            continue
        agreed.append(token)
        prompts.append(np.concatenate([data.inputs[i, :p], agreed]))
        budgets.append(max_new_tokens - len(agreed))
        pending.append(i)
    continued = (
        greedy_decode(model, prompts, end_id, np.array(budgets, np.int64), batch_size)
        if prompts
        else []
    )
    for i, prompt, more in zip(pending, prompts, continued):
        done[i] = np.concatenate([prompt[int(data.prompt_lengths[i]) :], more]).astype(np.int32)
    return [done[i] for i in range(len(data))]


def summarize(
    model,
    tokenizer,
    stories,
    separator: str = " tldr ",
    end: str = "\n",
    max_new_tokens: int = 100,
    batch_size: int = 64,
) -> list:
    """The model's greedy summary of each story (text), read up to the end token."""
    end_id = int(tokenizer.encode(end)[0])
    prompts = [tokenizer.encode(story + separator) for story in stories]
    return [
        tokenizer.decode(ids)
        for ids in greedy_decode(model, prompts, end_id, max_new_tokens, batch_size)
    ]


def story_scores(candidates, references) -> dict:
    """Per-story scores of candidate summaries against their references: ``{"rouge_l_f1": (n,),
    "exact_match": (n,)}``.

    ROUGE-L F1 comes from Google's ``rouge-score`` package, the one keras-hub's ``RougeL`` wraps
    (it lower-cases and splits on anything that is not a letter or a digit, the same words as a
    whitespace split on our lower-case summaries); exact match is 1.0 where the two word lists are
    equal.
    """
    from rouge_score import rouge_scorer

    if len(candidates) != len(references) or not len(candidates):
        raise ValueError(
            f"need as many candidates as references (at least one), got {len(candidates)} and "
            f"{len(references)}"
        )
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    f1 = [
        scorer.score(reference, candidate)["rougeL"].fmeasure
        for candidate, reference in zip(candidates, references)
    ]
    exact = [
        candidate.split() == reference.split()
        for candidate, reference in zip(candidates, references)
    ]
    return {"rouge_l_f1": np.array(f1, np.float64), "exact_match": np.array(exact, np.float64)}


def bootstrap_interval(
    values, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple:
    """(low, high): the percentile bootstrap interval of the mean of ``values`` (n,), resampling
    them with replacement.

    Draw ``resamples`` sets of n values with replacement, take each set's mean, and read the
    (1 − confidence)/2 and (1 + confidence)/2 quantiles of those means (Efron, 1979). With one
    score per test story, the interval says how much the mean would move on another test set
    of the same size.
    """
    values = as_array(values, "values", ndim=1, dtype="float")
    if len(values) < 2:
        raise ValueError(f"need at least 2 values to resample, got {len(values)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    resamples = require_positive_int(resamples, "resamples")
    rows = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    means = values[rows].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def summary_scores(candidates, references, confidence: float = 0.95, seed: int = 0) -> dict:
    """Mean ROUGE-L F1 and exact match over a test set, each with its bootstrap interval over the
    stories.

    Returns ``{"rouge_l_f1": mean, "rouge_l_f1_interval": (low, high), "exact_match": …,
    "exact_match_interval": …}`` (see :func:`story_scores` and :func:`bootstrap_interval`).
    """
    scores = {}
    for name, values in story_scores(candidates, references).items():
        scores[name] = float(values.mean())
        scores[f"{name}_interval"] = bootstrap_interval(values, confidence, seed=seed)
    return scores


def enable_lora(model, rank: int, alpha: float | None = None) -> list:
    """LoRA on every Dense layer of the model's blocks; every other weight frozen. Returns the
    layers.

    Keras's ``Dense.enable_lora(rank, lora_alpha)`` makes the kernel W non-trainable and adds
    ``lora_kernel_a`` A (d_in, r, He-uniform) and ``lora_kernel_b`` B (r, d_out, zeros): the
    layer then computes x (W + (α/r) A B) + b, the pre-trained function at the start. The
    embeddings, layer norms and biases are frozen here too, so only A and B train.
    """
    rank = require_positive_int(rank, "rank")
    layers = [
        layer
        for block in model.blocks
        for layer in block._flatten_layers()
        if isinstance(layer, keras.layers.Dense)
    ]
    for layer in layers:
        layer.enable_lora(rank, lora_alpha=alpha)
    lora = {id(v) for layer in layers for v in (layer.lora_kernel_a, layer.lora_kernel_b)}
    for variable in model.trainable_variables:
        if id(variable) not in lora:
            variable.trainable = False
    return layers


def parameter_counts(model) -> dict:
    """``{"trainable": …, "frozen": …, "total": …}`` scalar counts of the model's weights."""
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    frozen = sum(int(np.prod(v.shape)) for v in model.non_trainable_variables)
    return {"trainable": trainable, "frozen": frozen, "total": trainable + frozen}

"""Chapter 7: the KV cache gives the full forward pass's logits and generate's tokens, the exercise
answers equal Keras's distillation loss and quantizer (which the library uses instead of repeating
the answers), the pruner agrees with the answer, and bad input gets a clear error."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from solutions import ch07
from tinyllm import compression
from tinyllm.gpt import GPT, GPTConfig
from tinyllm.kv_cache import cached_forward, cached_next_token_logits, empty_cache
from tinyllm.sampling import generate, next_token_logits

TINY = GPTConfig(vocabulary_size=11, sequence_length=16, num_layers=2, num_heads=2, d_model=16)


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(4)
    model = GPT(TINY)
    # weights far from their initial scale, so the logits differ a lot
    rng = np.random.default_rng(0)
    model.set_weights(
        [w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()]
    )
    return model


def ids(rng, b, t):
    return rng.integers(0, TINY.vocabulary_size, (b, t)).astype(np.int32)


# --------------------------------------------------------------------------- KV cache


@pytest.mark.parametrize("pieces", [(16,), (1,) * 16, (5, 1, 1, 9), (8, 8)])
def test_cached_forward_in_pieces_equals_the_full_forward_pass(tiny_model, pieces):
    tokens = ids(np.random.default_rng(1), 3, 16)
    full = ops.convert_to_numpy(tiny_model(tokens))
    cache, outputs, start = None, [], 0
    for n in pieces:
        logits, cache = cached_forward(tiny_model, tokens[:, start : start + n], cache)
        outputs.append(ops.convert_to_numpy(logits))
        start += n
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=2e-5, rtol=1e-5)
    assert tuple(cache.shape) == (2, 2, 3, 2, 16, 8)


@pytest.mark.parametrize(
    "settings",
    [
        dict(temperature=0),
        dict(temperature=1.0, seed=2),
        dict(temperature=0.7, top_k=4, seed=5),
        dict(temperature=1.2, top_p=0.9),
    ],
)
def test_generate_with_the_cache_writes_the_same_tokens(tiny_model, settings):
    prompt = ids(np.random.default_rng(2), 2, 3)
    # 30 new tokens run past the context of 16: the sliding-window part must agree too
    np.testing.assert_array_equal(
        generate(tiny_model, prompt, 30, next_logits=cached_next_token_logits, **settings),
        generate(tiny_model, prompt, 30, **settings),
    )


def test_cached_next_token_logits_equals_next_token_logits_and_slides_past_the_context(tiny_model):
    tokens = ids(np.random.default_rng(3), 1, 20)
    cache = None
    for t in range(1, 21):
        logits, cache = cached_next_token_logits(tiny_model, tokens[:, :t], cache)
        np.testing.assert_allclose(logits, next_token_logits(tiny_model, tokens[:, :t]), atol=2e-5)
        assert (cache is None) == (t > TINY.sequence_length)


def test_cache_works_on_a_keras_int8_model():
    keras.utils.set_random_seed(5)
    model = GPT(TINY)
    model.quantize("int8", filters=lambda layer: isinstance(layer, keras.layers.Dense))
    tokens = ids(np.random.default_rng(4), 2, 12)
    first, cache = cached_forward(model, tokens[:, :7])
    rest, _ = cached_forward(model, tokens[:, 7:], cache)
    np.testing.assert_allclose(
        np.concatenate([first, rest], 1), ops.convert_to_numpy(model(tokens)), atol=1e-4
    )


def test_cache_bad_inputs_say_what_is_wrong(tiny_model):
    tokens = ids(np.random.default_rng(5), 2, 10)
    _, cache = cached_forward(tiny_model, tokens)
    with pytest.raises(ValueError, match="exceed the model's context of 16"):
        cached_forward(tiny_model, tokens[:, :7], cache)
    with pytest.raises(ValueError, match=r"cache must have shape .* for this model and 1 sequence"):
        cached_forward(tiny_model, tokens[:1, :1], cache)
    with pytest.raises(ValueError, match="at least one new token"):
        cached_forward(tiny_model, tokens[:, :0], cache)
    with pytest.raises(ValueError, match="token_ids must have 2 dimension"):
        cached_forward(tiny_model, tokens[0])
    with pytest.raises(ValueError, match="must extend it by at least one token"):
        cached_next_token_logits(tiny_model, tokens, cache)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        empty_cache(tiny_model, 0)


# --------------------------------------------------------------------------- distillation


def random_logits(seed, shape, scale=3.0):
    return np.random.default_rng(seed).normal(0, scale, shape).astype(np.float32)


def keras_kd(teacher, student, temperature):
    """Keras's distillation term, which the chapter uses: the library holds no distillation loss."""
    return keras.distillation.LogitsDistillation(
        temperature, loss=keras.losses.KLDivergence()
    ).compute_loss(teacher, student)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_the_answer_equals_keras_logits_distillation(temperature):
    teacher, student = random_logits(0, (3, 7, 28), 1.5), random_logits(1, (3, 7, 28), 1.5)
    answer = ch07.distillation_loss(teacher, student, temperature)
    # equal while no probability falls below Keras's clip at 1e-7 (logits of spread 1.5/T here)
    assert float(keras_kd(teacher, student, temperature)) == pytest.approx(answer, rel=1e-4)


def test_keras_kl_clips_probabilities_below_1e_minus_7():
    # a student certain of the wrong token: q = e^-30 ≈ 1e-13 where p ≈ 1; Keras reads it as 1e-7
    teacher, student = np.array([[30.0, 0.0]], np.float32), np.array([[0.0, 30.0]], np.float32)
    answer = ch07.distillation_loss(teacher, student, 1.0)
    assert answer == pytest.approx(30.0, rel=1e-4)
    assert float(keras_kd(teacher, student, 1.0)) == pytest.approx(-np.log(1e-7), rel=1e-2)


def test_keras_default_kl_string_is_not_the_distillation_loss():
    # Keras 3.15: LogitsDistillation's default loss "kl_divergence" resolves to a function, which
    # fails the isinstance(KLDivergence) check, so it takes the KL of clipped logits with no softmax
    # and no T². The chapter says so; if this starts to fail, Keras fixed it and the chapter's
    # paragraph must change.
    teacher, student = random_logits(2, (2, 5, 28)), random_logits(3, (2, 5, 28))
    default = float(keras.distillation.LogitsDistillation(2.0).compute_loss(teacher, student))
    assert default != pytest.approx(ch07.distillation_loss(teacher, student, 2.0), rel=1e-2)


def test_keras_soft_target_gradient_is_t_times_q_minus_p_over_positions():
    teacher, student = (
        random_logits(4, (2, 3, 9), 1.0),
        tf.Variable(random_logits(5, (2, 3, 9), 1.0)),
    )
    temperature = 3.0
    with tf.GradientTape() as tape:
        loss = keras_kd(teacher, student, temperature)
    p = tf.nn.softmax(teacher / temperature)
    q = tf.nn.softmax(student / temperature)
    np.testing.assert_allclose(tape.gradient(loss, student), temperature * (q - p) / 6, atol=1e-6)


def test_the_library_holds_no_distillation_loss():
    assert not hasattr(compression, "soft_target_loss")


# --------------------------------------------------------------------------- quantization


def test_quantize_weights_is_keras_dense_int8_and_the_answer_with_the_inverse_scale():
    rng = np.random.default_rng(6)
    kernel = rng.normal(0, 0.05, (32, 48)).astype(np.float32)
    q, inverse_scale = compression.quantize_weights(kernel, bits=8)
    dense = keras.layers.Dense(48)
    dense.build((None, 32))
    dense.kernel.assign(kernel)
    dense.quantize("int8")
    np.testing.assert_array_equal(ops.convert_to_numpy(dense._kernel), q)  # Keras's integers
    # and its stored scale
    np.testing.assert_array_equal(ops.convert_to_numpy(dense.kernel_scale), inverse_scale)
    reference_q, reference_scale = ch07.quantize_int8(kernel)
    assert (
        q != reference_q
    ).sum() <= 2  # round(w·r) against round(w/s): a tie can fall either side
    # Keras's 1e-7 epsilon
    np.testing.assert_allclose(inverse_scale * reference_scale, 1.0, rtol=1e-5)
    assert (
        np.abs(compression.dequantize(q, inverse_scale) - kernel).max()
        <= 1 / inverse_scale.min() / 2 + 1e-7
    )


def test_quantize_weights_int4_rows_and_zero_columns():
    w = np.array([[0.0, 1.0, -3.5], [0.0, -0.5, 7.0]], np.float32)
    q, inverse_scale = compression.quantize_weights(w, bits=4)
    assert q.dtype == np.int8 and np.abs(q).max() == 7
    assert q[:, 0].tolist() == [0, 0]  # an all-zero column stays zero (Keras's epsilon, no 0/0)
    np.testing.assert_allclose(inverse_scale[1:], [7.0, 1.0], rtol=1e-6)
    q_rows, row_inverse = compression.quantize_weights(w, bits=8, axis=1)
    assert row_inverse.shape == (2,) and np.abs(q_rows).max(axis=1).tolist() == [127, 127]
    np.testing.assert_allclose(
        compression.dequantize(q_rows, row_inverse, axis=1), w, atol=7 / 127 / 2 + 1e-6
    )
    with pytest.raises(ValueError, match="bits must be an integer from 2 to 8"):
        compression.quantize_weights(w, bits=16)
    with pytest.raises(ValueError, match="w must have 2 dimension"):
        compression.quantize_weights(w[0])


def test_quantize_model_stores_int8_and_shrinks_the_course_model_about_four_times():
    keras.utils.set_random_seed(6)
    config = GPTConfig(28, 256, 3, 4, 96)  # the shape of the shipped pre-trained model
    model = GPT(config)
    float_bytes = compression.stored_bytes({v.path: ops.convert_to_numpy(v) for v in model.weights})
    stored = compression.quantize_model(model, bits=8)
    matrices = compression.model_matrices(model)
    assert len(matrices) == 3 * 4 + 2  # 4 Dense kernels per block, the token and position tables
    for path, (variable, axis) in matrices.items():
        assert stored[path + "/q"].dtype == np.int8
        np.testing.assert_array_equal(
            ops.convert_to_numpy(variable),
            compression.dequantize(stored[path + "/q"], stored[path + "/scale"], axis),
        )
    ratio = float_bytes / compression.stored_bytes(stored)
    assert 3.5 < ratio < 4.0  # measured 3.74


# --------------------------------------------------------------------------- pruning


def test_global_masks_equal_the_answer_on_the_concatenated_weights():
    rng = np.random.default_rng(7)
    arrays = [
        rng.normal(0, s, shape).astype(np.float32)
        for s, shape in ((1.0, (6, 5)), (0.1, (4, 3)), (3.0, (7,)))
    ]
    arrays[1][0, :2] = arrays[0][0, 0]  # ties across arrays
    flat = np.concatenate([a.ravel() for a in arrays])
    for sparsity in (0.0, 0.25, 0.5, 0.9, 1.0):
        masks = compression.global_magnitude_masks(arrays, sparsity)
        kept = np.concatenate([(a * m).ravel() for a, m in zip(arrays, masks)])
        np.testing.assert_array_equal(kept, ch07.magnitude_prune(flat, sparsity))
        assert sum((~m).sum() for m in masks) == int(np.floor(sparsity * flat.size))
    with pytest.raises(ValueError, match=r"sparsity must lie in \[0, 1\]"):
        compression.global_magnitude_masks(arrays, 1.5)


def test_keep_pruned_holds_the_zeros_through_fine_tuning():
    keras.utils.set_random_seed(8)
    model = GPT(TINY)
    kernels = compression.prunable_kernels(model)
    assert len(kernels) == 2 * 4 and all("embedding" not in k.path for k in kernels)
    masks = compression.global_magnitude_masks(kernels, 0.6)
    compression.apply_masks(kernels, masks)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(True),
    )
    tokens = ids(np.random.default_rng(9), 8, 17)
    before = [ops.convert_to_numpy(k).copy() for k in kernels]
    model.fit(
        tokens[:, :-1],
        tokens[:, 1:],
        epochs=3,
        batch_size=4,
        verbose=0,
        callbacks=[compression.KeepPruned(kernels, masks)],
    )
    for kernel, mask, old in zip(kernels, masks, before):
        value = ops.convert_to_numpy(kernel)
        assert np.all(value[~mask] == 0)
        assert not np.allclose(value[mask], old[mask])  # the kept weights did train

"""Chapter 7 exercises: public cases (shipped to learners)."""

import numpy as np

from course.registry import Case, exercise


def _f32(rows):
    return np.array(rows, dtype=np.float32)


@exercise(
    "ch07.distillation_loss",
    "distillation_loss(teacher_logits, student_logits, temperature)",
    "mean over positions of T²·KL(softmax(teacher/T) ‖ softmax(student/T)), natural log",
    rtol=1e-4,
    atol=1e-6,
)
def distillation_loss_cases():
    rng = np.random.default_rng(7)
    teacher, student = (
        rng.normal(0, 2, (2, 3, 5)).astype(np.float32),
        rng.normal(0, 2, (2, 3, 5)).astype(np.float32),
    )
    return [
        Case(
            "the student already matches the teacher",
            (_f32([[1.0, 2.0, 0.5]]), _f32([[1.0, 2.0, 0.5]]), 1.0),
            hint="KL(p ‖ q) is 0 when p = q; the cross-entropy H(p, q) is not (it is the "
            "teacher's entropy): "
            "subtract Σ p log p",
        ),
        Case(
            "the direction of the KL",
            (_f32([[4.0, 0.0, 0.0, 0.0]]), _f32([[0.0, 0.0, 0.0, 0.0]]), 1.0),
            hint="weigh by the teacher's probabilities: KL(p_teacher ‖ q_student), not KL(q ‖ "
            "p) — the student "
            "is pulled towards everything the teacher finds likely",
        ),
        Case(
            "one position, T = 1",
            (_f32([[2.0, 0.0, -1.0]]), _f32([[0.0, 1.0, 0.0]]), 1.0),
            hint="p = softmax(teacher), q = softmax(student); KL(p ‖ q) = Σ_j p_j (log p_j − "
            "log q_j), natural "
            "log, summed over the vocabulary",
        ),
        Case(
            "T = 4: both softened, times T²",
            (_f32([[3.0, 1.0, -2.0, 0.0]]), _f32([[0.0, 2.0, 1.0, -1.0]]), 4.0),
            hint="divide BOTH logit arrays by T before the softmax, then multiply the KL by "
            "T² (not T, not 1): "
            "Hinton et al.'s factor that keeps gradient sizes comparable across temperatures",
        ),
        Case(
            "a batch of sequences (2, 3, 5), T = 2",
            (teacher, student, 2.0),
            hint="sum over the last axis (the vocabulary) only, then average over every other "
            "axis — the mean "
            "over all 6 positions, not their sum",
        ),
        Case(
            "large logits stay finite",
            (_f32([[900.0, 0.0, -900.0]]), _f32([[0.0, 800.0, 0.0]]), 2.0),
            hint="use a stable log-softmax (subtract each row's maximum before exp): e^450 "
            "overflows, and "
            "log of a probability that underflowed to 0 is −inf",
        ),
    ]


@exercise(
    "ch07.quantize_int8",
    "quantize_int8(w)",
    "(q int8, scale (d_out,)): symmetric per output column, scale = max|w|/127, round half to even",
    rtol=1e-6,
    atol=1e-9,
)
def quantize_int8_cases():
    rng = np.random.default_rng(3)
    return [
        Case(
            "one column whose largest |w| is 127: scale 1",
            (_f32([[127.0], [2.5], [-0.5], [1.5], [-127.0]]),),
            hint="scale = max|w| / 127 = 1 here, q = round(w / scale); np.round rounds halves "
            "to the even "
            "neighbour (2.5 → 2, −0.5 → 0, 1.5 → 2), unlike floor(x + 0.5)",
        ),
        Case(
            "columns with different ranges",
            (_f32([[127.0, -254.0], [-127.0, 254.0], [5.0, 2.0]]),),
            hint="one scale per OUTPUT column (axis 0 reduced): scale has shape (d_out,), not "
            "one number for "
            "the whole matrix and not one per row; each is max|w| / 127 of its column (1 and 2 "
            "here), "
            "the number you multiply q by to get w back",
        ),
        Case(
            "the sign is kept: symmetric",
            (_f32([[-2.0, 1.0], [1.0, 0.5], [0.0, -1.0]]),),
            hint="symmetric: scale = max|w| / 127 and zero maps to 0; the most negative entry "
            "of a column "
            "becomes −127 when it has the largest magnitude",
        ),
        Case(
            "scale reconstructs w (w ≈ q · scale)",
            (rng.normal(0, 0.05, (6, 4)).astype(np.float32),),
            hint="return the scale you MULTIPLY q by to get w back, max|w|/127 (Keras stores "
            "its reciprocal, "
            "127/max|w|); q must be int8 in [−127, 127]",
        ),
        Case(
            "an all-zero column",
            (_f32([[0.0, 1.0], [0.0, -0.5]]),),
            hint="a column of zeros has max|w| = 0: use scale 1.0 there (q = 0), not 0/0",
        ),
    ]


@exercise(
    "ch07.magnitude_prune",
    "magnitude_prune(w, sparsity)",
    "zero exactly floor(sparsity·w.size) entries of smallest |w| (ties: lower flat index first)",
)
def magnitude_prune_cases():
    return [
        Case(
            "half of a vector",
            (_f32([0.5, -3.0, 0.1, 2.0]), 0.5),
            hint="rank by magnitude |w|: 0.1 and 0.5 are the smallest; keep the others "
            "unchanged (not 0/1)",
        ),
        Case(
            "negative weights are not small",
            (_f32([-4.0, 0.2, -0.1, 1.0, 3.0]), 0.4),
            hint="−4.0 is a large weight: sort by np.abs(w), not by w",
        ),
        Case(
            "one ranking over the whole matrix",
            (_f32([[0.1, 0.2, 0.3], [5.0, 6.0, 7.0]]), 0.5),
            hint="global pruning: one ranking over every entry (the whole first row goes "
            "here), not a "
            "quota per row or per column",
        ),
        Case(
            "the count rounds down",
            (_f32([0.4, 0.3, 0.2, 0.1, 0.5, 0.6, 0.7]), 0.5),
            hint="prune exactly floor(sparsity · w.size) entries: ⌊0.5 · 7⌋ = 3, not "
            "round(3.5) = 4",
        ),
        Case(
            "ties: lower index first",
            (_f32([0.5, 2.0, 0.5, 3.0, 0.5, 4.0]), 0.3),
            hint="exactly k entries go even when |w| ties at the threshold: sort with a "
            "stable sort "
            "(np.argsort(..., kind='stable')) and take the first k — a '|w| <= threshold' test "
            "prunes "
            "every tied entry",
        ),
        Case(
            "sparsity 0 changes nothing",
            (_f32([[1.0, -2.0], [0.5, 0.0]]), 0.0),
            hint="⌊0 · size⌋ = 0 entries pruned: return w as it is, with its shape",
        ),
        Case(
            "sparsity 1 zeroes everything",
            (_f32([[1.0, -2.0], [0.5, 0.0]]), 1.0),
            hint="sparsity 1 zeroes every entry; keep the shape of w (d_in, d_out), not a "
            "flat vector",
        ),
    ]

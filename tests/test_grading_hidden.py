"""The hidden tests of the graded cells (nbgrader's ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``).

Every graded cell of the chapters ends with one hidden block: extra cases the visible checker does
not run (other shapes and argument values, hand-derived values and gradients), written in the cell
so that a student reading ``gantut.grading`` does not see them. Here, without running the notebooks:

* each hidden block needs nothing from the notebook but ``torch`` and the student's function(s);
* it passes the chapter's own solution and every correct answer of tests/test_grading*.py (60 of
  them, written in different ways), leaves torch's random stream as it was, and is fast;
* it fails realistic wrong answers with a message naming the mistake, including two that pass the
  visible checks (a generator that fixes the batch size, 1 − σ(−F̂) for σ(F̂));
* the student version (``gantut student``, nbgrader's release steps) has none of it.

The nbgrader course itself (generate_assignment, autograde with the hidden tests put back) is in
tests/test_grading_nbgrader.py.
"""
import math
import re
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import test_grading as core_tests  # noqa: E402  (tests/ is on sys.path under pytest)
import test_grading_ch01_02 as ch01_02_tests  # noqa: E402
import test_grading_ch03_06_07 as ch03_06_07_tests  # noqa: E402
import test_grading_ch04_05 as ch04_05_tests  # noqa: E402
import test_grading_ch08 as ch08_tests  # noqa: E402
import test_grading_ch09 as ch09_tests  # noqa: E402
import test_grading_ch10 as ch10_tests  # noqa: E402
import test_grading_ch11 as ch11_tests  # noqa: E402
import test_grading_ch12 as ch12_tests  # noqa: E402
from gantut import grading, student

try:
    import nbgrader  # noqa: F401
except ImportError:
    nbgrader = None
needs_nbgrader = pytest.mark.skipif(nbgrader is None, reason='pip install "gantut[instructor]"')

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.S | re.M)

# graded cell -> the function(s) it tests, in the order the solution cell defines them
EXERCISES = {
    "test_losses": ("d_loss", "g_loss"),
    "test_mode_stats": ("mode_stats",),
    "test_course_G_bn": ("course_G_bn",),
    "test_gradient_penalty": ("gradient_penalty",),
    "test_simplex_vertices": ("simplex_vertices",),
    "test_mixture_likelihood": ("mixture_likelihood",),
    "test_unrolled_sgd_step": ("unrolled_sgd_step",),
    "test_r1_penalty": ("r1_penalty",),
    "test_acceptance_probability": ("acceptance_probability",),
    "test_self_attention": ("SelfAttentionBlock",),
    "test_lsgan_alpha": ("lsgan_d_loss", "smoothstep_alpha"),
    "test_fade_in": ("fade_in",),
    "test_orthogonal_pair_batch": ("orthogonal_pair_batch",),
    "test_pair_dot": ("pair_dot",),
    "test_latent_scale": ("latent_scale",),
    "test_encoder_loss": ("encoder_loss",),
}

# the correct answers of the checker tests, by the function they implement
CORRECT = {
    "d_loss": core_tests.D_LOSS_CORRECT,
    "g_loss": core_tests.G_LOSS_CORRECT,
    "mode_stats": ch01_02_tests.MS_CORRECT,
    "course_G_bn": ch01_02_tests.G_CORRECT,
    "gradient_penalty": core_tests.GP_CORRECT,
    "r1_penalty": core_tests.R1_CORRECT,
    "acceptance_probability": ch03_06_07_tests.AP_CORRECT,
    "simplex_vertices": ch04_05_tests.SV_CORRECT,
    "mixture_likelihood": ch04_05_tests.ML_CORRECT,
    "unrolled_sgd_step": ch04_05_tests.US_CORRECT,
    "SelfAttentionBlock": ch08_tests.SA_CORRECT,
    "lsgan_d_loss": ch09_tests.LS_CORRECT,
    "smoothstep_alpha": ch09_tests.SS_CORRECT,
    "fade_in": ch10_tests.FI_CORRECT,
    "orthogonal_pair_batch": ch11_tests.PAIRS_CORRECT,
    "pair_dot": ch11_tests.DOT_CORRECT,
    "latent_scale": ch12_tests.SCALE_CORRECT,
    "encoder_loss": ch12_tests.LOSS_CORRECT,
}


def graded_cells() -> dict[str, tuple[str, str, str]]:
    """grade_id -> (chapter file name, graded cell source, its solution cell source), every chapter."""
    found = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
        for gid, cell in by_id.items():
            meta = cell.metadata["nbgrader"]
            if meta.get("grade") and not meta.get("solution"):
                found[gid] = (path.name, cell.source, by_id[gid.removeprefix("test_")].source)
    return found


CELLS = graded_cells()


def hidden_block(source: str) -> str:
    blocks = HIDDEN.findall(source)
    assert len(blocks) == 1, f"expected one hidden block, found {len(blocks)}"
    return blocks[0]


def visible_part(source: str) -> str:
    """What nbgrader's ClearHiddenTests leaves of a graded cell."""
    return HIDDEN.sub("", source).rstrip("\n")


def run_hidden(gid: str, **fns) -> None:
    """Execute the hidden block of ``gid`` with only ``torch`` and the given functions defined."""
    exec(hidden_block(CELLS[gid][1]), {"torch": torch, **fns})


def chapter_solution(gid: str) -> dict:
    """The chapter's own solution functions for the graded cell ``gid``."""
    ns = {"torch": torch, "nn": nn, "F": F, "math": math, "grading": grading}
    exec(CELLS[gid][2], ns)
    return {name: ns[name] for name in EXERCISES[gid]}


def test_every_graded_cell_has_one_hidden_block_after_its_visible_checks():
    assert set(CELLS) == set(EXERCISES)
    for gid, (chapter, source, _) in CELLS.items():
        block = hidden_block(source)
        assert block.strip(), (chapter, gid)
        assert source.rstrip().endswith(END), (chapter, gid)
        visible = visible_part(source)
        assert "grading.check_" in visible and "HIDDEN" not in visible, (chapter, gid)
        assert "grading." not in block, (chapter, gid)  # hand-written cases, not a call into the package
        for name in EXERCISES[gid]:
            assert name in block, (chapter, gid, name)


@pytest.mark.parametrize("gid", sorted(EXERCISES))
def test_the_chapter_solution_passes_the_hidden_tests_quickly_and_keeps_the_random_stream(gid):
    fns = chapter_solution(gid)
    state = torch.get_rng_state()
    start = time.perf_counter()
    run_hidden(gid, **fns)
    elapsed = time.perf_counter() - start
    assert torch.equal(torch.get_rng_state(), state), f"{gid}: the hidden tests changed torch's random stream"
    assert elapsed < 1.0, f"{gid}: the hidden tests took {elapsed:.2f} s"


def _correct_cases():
    for gid, names in EXERCISES.items():
        for name in names:
            for alt in sorted(CORRECT[name]):
                yield pytest.param(gid, name, alt, id=f"{gid}-{name}-{alt}")


@pytest.mark.parametrize("gid,name,alt", list(_correct_cases()))
def test_every_correct_answer_passes_the_hidden_tests(gid, name, alt):
    fns = chapter_solution(gid)  # the other function of the cell (d_loss with g_loss) is the chapter's
    fns[name] = CORRECT[name][alt]
    state = torch.get_rng_state()
    run_hidden(gid, **fns)
    assert torch.equal(torch.get_rng_state(), state)


def test_all_correct_answers_are_tried():
    assert sum(len(CORRECT[n]) for names in EXERCISES.values() for n in names) == 65


# --- wrong answers ---------------------------------------------------------------------------------

def _g_batch_of_16(z_dim=100):
    """The course generator with the batch size written into forward: the visible checks use batches of 16."""
    sizes, layers = [z_dim, 256, 512, 1024], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.LeakyReLU(0.2)]
    net = nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh())

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, z):
            return self.net(z).view(16, 1, 28, 28)
    return G()


def _ap_one_minus(logits, D_M, epsilon, gamma):
    """σ(F̂) written as 1 − σ(−F̂): equal on paper, 0 in float32 for the improbable samples."""
    delta = logits - D_M
    return 1 - torch.sigmoid(-(delta - torch.log(-torch.expm1(delta - epsilon)) - gamma))


# (graded cell, function, wrong answer): the visible checker passes them, the hidden tests do not
PASS_VISIBLE_FAIL_HIDDEN = [
    ("test_course_G_bn", "course_G_bn", _g_batch_of_16),
    ("test_acceptance_probability", "acceptance_probability", _ap_one_minus),
    ("test_self_attention", "SelfAttentionBlock", ch08_tests.block_with_two_qk_channels()),
]


@pytest.mark.parametrize("gid,name,fn", PASS_VISIBLE_FAIL_HIDDEN, ids=[w[0] for w in PASS_VISIBLE_FAIL_HIDDEN])
def test_the_hidden_tests_catch_what_the_visible_checks_miss(gid, name, fn, capsys):
    visible = visible_part(CELLS[gid][1])
    fns = {**chapter_solution(gid), name: fn}
    exec(visible, {"grading": grading, **fns})
    assert "✓" in capsys.readouterr().out
    with pytest.raises((AssertionError, RuntimeError)):
        run_hidden(gid, **fns)


def _wrong(checker_tests, table, name):
    return next(fn for wname, fn, _ in getattr(checker_tests, table) if wname == name)


# (graded cell, function, wrong answer, words of the hidden assertion's message)
HIDDEN_WRONG = [
    ("test_losses", "d_loss", _wrong(core_tests, "D_LOSS_WRONG", "concatenated"), "each over its own batch"),
    ("test_losses", "d_loss", _wrong(core_tests, "D_LOSS_WRONG", "swapped"), "each over its own batch"),
    ("test_losses", "d_loss", _wrong(core_tests, "D_LOSS_WRONG", "half_detached"), "d_loss gradients"),
    ("test_losses", "g_loss", _wrong(core_tests, "G_LOSS_WRONG", "label_zero"), "softplus(-logit)"),
    ("test_losses", "g_loss", _wrong(core_tests, "G_LOSS_WRONG", "naive"), "stable at -800"),
    ("test_mode_stats", "mode_stats", _wrong(ch01_02_tests, "MS_WRONG", "box"), "Euclidean distance"),
    ("test_mode_stats", "mode_stats", _wrong(ch01_02_tests, "MS_WRONG", "fixed_n_std"), "n_std = 2"),
    ("test_mode_stats", "mode_stats", _wrong(ch01_02_tests, "MS_WRONG", "captured_only"), "K = len(mu) = 3"),
    ("test_course_G_bn", "course_G_bn", _wrong(ch01_02_tests, "G_WRONG", "no_tanh"), "in [-1, 1]"),
    ("test_gradient_penalty", "gradient_penalty", _wrong(core_tests, "GP_WRONG", "one_sided"), "two-sided"),
    ("test_gradient_penalty", "gradient_penalty", _wrong(core_tests, "GP_WRONG", "whole_batch_norm"), "per sample"),
    ("test_gradient_penalty", "gradient_penalty", _wrong(core_tests, "GP_WRONG", "times_lambda"), "expected 7/4"),
    ("test_simplex_vertices", "simplex_vertices", _wrong(ch04_05_tests, "SV_WRONG", "reference_bug"), "norm 1"),
    ("test_simplex_vertices", "simplex_vertices", _wrong(ch04_05_tests, "SV_WRONG", "no_transpose"), "shape"),
    ("test_mixture_likelihood", "mixture_likelihood", _wrong(ch04_05_tests, "ML_WRONG", "constant_d_fixed_2"),
     "(2π·0.5)^(-d/2)"),
    ("test_mixture_likelihood", "mixture_likelihood", _wrong(ch04_05_tests, "ML_WRONG", "sigma_in_exponent"),
     "sigma2 = 0.25"),
    ("test_unrolled_sgd_step", "unrolled_sgd_step", _wrong(ch04_05_tests, "US_WRONG", "hardcoded_bce"),
     "use the d_loss argument"),
    ("test_unrolled_sgd_step", "unrolled_sgd_step", _wrong(ch04_05_tests, "US_WRONG", "ascent"), "expected lr·½"),
    ("test_r1_penalty", "r1_penalty", _wrong(core_tests, "R1_WRONG", "no_half"), "expected (γ/2)·E‖x‖² = 7"),
    ("test_r1_penalty", "r1_penalty", _wrong(core_tests, "R1_WRONG", "at_zero"), "at the real data"),
    ("test_acceptance_probability", "acceptance_probability", _wrong(ch03_06_07_tests, "AP_WRONG", "gamma_sign"),
     "expected 1/2"),
    ("test_acceptance_probability", "acceptance_probability", _wrong(ch03_06_07_tests, "AP_WRONG", "F_hat"),
     "expected [2/3, 0.4]"),
    ("test_acceptance_probability", "acceptance_probability", _ap_one_minus, "not 1 − σ(−F̂)"),
    ("test_self_attention", "SelfAttentionBlock", _wrong(ch08_tests, "SA_WRONG", "no_residual"), "β is uniform"),
    ("test_lsgan_alpha", "lsgan_d_loss", _wrong(ch09_tests, "LS_WRONG", "half_sum"), "each mean over its own batch"),
    ("test_lsgan_alpha", "lsgan_d_loss", _wrong(ch09_tests, "LS_WRONG", "one_mean"), "each mean over its own batch"),
    ("test_lsgan_alpha", "smoothstep_alpha", _wrong(ch09_tests, "SS_WRONG", "linear"), "α_max·(3t² − 2t³)"),
    ("test_lsgan_alpha", "smoothstep_alpha", _wrong(ch09_tests, "SS_WRONG", "no_upper_clamp"), "clamped to [0, 1]"),
    ("test_fade_in", "fade_in", _wrong(ch10_tests, "FI_WRONG", "swapped"), "non-square 2-channel map"),
    ("test_fade_in", "fade_in", _wrong(ch10_tests, "FI_WRONG", "bilinear"), "repeated into a 2×2 block"),
    ("test_orthogonal_pair_batch", "orthogonal_pair_batch", _wrong(ch11_tests, "PAIRS_WRONG", "no_rejection"),
     "must stay <= T = 0.5"),
    ("test_orthogonal_pair_batch", "orthogonal_pair_batch", _wrong(ch11_tests, "PAIRS_WRONG", "adjacent"),
     "are not orthogonal"),
    ("test_pair_dot", "pair_dot", _wrong(ch11_tests, "DOT_WRONG", "abs"), "pair_dot on a 4×3 batch"),
    ("test_pair_dot", "pair_dot", _wrong(ch11_tests, "DOT_WRONG", "wrong_axis"), "pair_dot on a 4×3 batch"),
    ("test_latent_scale", "latent_scale", _wrong(ch12_tests, "SCALE_WRONG", "no_sqrt_d"), "latent_scale([0.09, 0.16, 0])"),
    ("test_latent_scale", "latent_scale", _wrong(ch12_tests, "SCALE_WRONG", "norm_of_v"), "latent_scale([0.09, 0.16, 0])"),
    ("test_encoder_loss", "encoder_loss", _wrong(ch12_tests, "LOSS_WRONG", "no_s2"), "expected 5/3"),
    ("test_encoder_loss", "encoder_loss", _wrong(ch12_tests, "LOSS_WRONG", "detached"), "no gradient reached z_hat"),
]


@pytest.mark.parametrize("gid,name,fn,fragment", HIDDEN_WRONG, ids=[f"{w[0]}-{i}" for i, w in enumerate(HIDDEN_WRONG)])
def test_the_hidden_tests_name_the_mistake(gid, name, fn, fragment):
    with pytest.raises(AssertionError) as info:
        run_hidden(gid, **{**chapter_solution(gid), name: fn})
    assert fragment in str(info.value), str(info.value)


# --- the student version ------------------------------------------------------------------------------

@needs_nbgrader
def test_gantut_student_removes_every_hidden_block(tmp_path, capsys):
    from gantut import cli

    assert cli.main(["student", "--out", str(tmp_path)]) == 0
    for gid, (chapter, source, _) in CELLS.items():
        nb = nbformat.read(tmp_path / chapter, as_version=4)
        text = nbformat.writes(nb)
        assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, chapter
        (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
        assert cell.source.rstrip("\n") == visible_part(source), gid  # the visible checks, unchanged
        assert student.HIDDEN_TESTS_NOTICE not in cell.source  # the cell still has visible checks
        assert hidden_block(source).strip().splitlines()[-1] not in text


@needs_nbgrader
def test_a_chapter_cell_with_only_hidden_tests_shows_the_notice(tmp_path):
    chapter, source, _ = CELLS["test_acceptance_probability"]
    nb = nbformat.read(NOTEBOOKS / chapter, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_acceptance_probability"]
    cell.source = f"{BEGIN}\n{hidden_block(source)}{END}"
    src = tmp_path / "source" / chapter
    src.parent.mkdir()
    nbformat.write(nb, src)
    assert student.generate([src], tmp_path / "release") == [tmp_path / "release" / chapter]  # gantut student's step
    out = nbformat.read(tmp_path / "release" / chapter, as_version=4)
    (cell,) = [c for c in out.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_acceptance_probability"]
    assert cell.source == student.HIDDEN_TESTS_NOTICE
    assert "HIDDEN TESTS" not in nbformat.writes(out) and "acceptance_probability(" not in cell.source

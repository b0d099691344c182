"""Issue 19, the bad-input catalogue: every bad input to the CLI ends with exit status 2, one
`error:` line on stderr, no traceback, and no file in the working directory created, changed
or removed. Plus a hypothesis fuzzer of PROBLEM.npz contents, the atomic writer, the
operators' fast-path guards and the start-up of `lowranklab --help`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowranklab.atomic import atomic_write, write_npz, write_text
from lowranklab.cli import main
from lowranklab.lowrank import as_dense
from lowranklab.operators import EntrySampling
from lowranklab.problems import Problem, completion_problem, sensing_problem

D = 4  # the valid square problems are 4×4


def _write(path: Path, **arrays) -> None:
    with open(path, "wb") as fh:  # test fixtures: plain np.savez (object arrays allowed)
        np.savez(fh, **arrays)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A directory with valid problems and results and a catalogue of bad PROBLEM.npz files."""
    root = tmp_path_factory.mktemp("catalogue")
    rng = np.random.default_rng(0)
    sym = sensing_problem(D, 1, 20, rng)
    sym.save(root / "sym.npz")
    completion_problem(6, 5, 1, 0.8, rng).save(root / "rect.npz")
    A = sym.op.A
    b = sym.b
    X = as_dense(sym.truth)
    good_c = dict(rows=np.array([0, 1, 2]), cols=np.array([0, 1, 2]), values=np.ones(3),
                  shape=np.array([D, D]))
    bad = {
        "complex_A": dict(A=A.astype(complex) * 1j, b=b),
        "complex_b": dict(A=A, b=b + 1j),
        "nan_b": dict(A=A, b=np.where(np.arange(b.size) == 0, np.nan, b)),
        "inf_A": dict(A=np.where(A > 1, np.inf, A), b=b),
        "nan_truth": dict(A=A, b=b, X_true=np.full((D, D), np.nan)),
        "complex_truth": dict(A=A, b=b, X_true=X + 1j),
        "truth_shape": dict(A=A, b=b, X_true=np.zeros((D + 1, D))),
        "only_U_true": dict(A=A, b=b, U_true=np.ones((D, 1))),
        "both_truths": dict(A=A, b=b, X_true=X, U_true=np.ones((D, 1)), V_true=np.ones((D, 1))),
        "nan_U_true": dict(A=A, b=b, U_true=np.full((D, 1), np.nan), V_true=np.ones((D, 1))),
        "A_1d": dict(A=A.ravel(), b=b),
        "A_no_rows": dict(A=np.zeros((0, D * D)), b=np.zeros(0)),
        "A_zero": dict(A=np.zeros_like(A), b=b),
        "A_not_square": dict(A=A[:, :-1], b=b),
        "A_shape_mismatch": dict(A=A, b=b, shape=np.array([D, D + 1])),
        "A_strings": dict(A=np.array([["a"] * (D * D)] * 3), b=np.zeros(3)),
        "A_object": dict(A=np.array([None, 1], dtype=object), b=b),
        "b_length": dict(A=A, b=b[:-1]),
        "missing_b": dict(A=A),
        "no_keys": dict(x=np.zeros(2)),
        "float_shape": {**good_c, "shape": np.array([4.0, 4.0])},
        "huge_shape": {**good_c, "shape": np.array([10**12, 6])},
        "shape_3": {**good_c, "shape": np.array([4, 4, 4])},
        "shape_negative": {**good_c, "shape": np.array([-4, 4])},
        "rows_float": {**good_c, "rows": np.array([0.0, 1.0, 2.0])},
        "rows_out_of_range": {**good_c, "rows": np.array([0, 1, 9])},
        "rows_negative": {**good_c, "rows": np.array([0, -1, 2])},
        "cols_length": {**good_c, "cols": np.array([0, 1])},
        "values_length": {**good_c, "values": np.ones(4)},
        "values_complex": {**good_c, "values": np.ones(3) + 1j},
        "values_nan": {**good_c, "values": np.array([1.0, np.nan, 1.0])},
        "duplicate_conflict": {**good_c, "rows": np.array([0, 0, 2]),
                               "cols": np.array([1, 1, 2]), "values": np.array([1.0, 2.0, 3.0])},
        "no_entries": {**good_c, "rows": np.zeros(0, int), "cols": np.zeros(0, int),
                       "values": np.zeros(0)},
        "missing_shape": {k: v for k, v in good_c.items() if k != "shape"},
        "symmetric_array": dict(A=A, b=b, symmetric=np.array([True, False])),
        "symmetric_rect": {**good_c, "shape": np.array([4, 5]), "symmetric": np.array(True)},
    }
    (root / "bad").mkdir()
    for name, arrays in bad.items():
        _write(root / "bad" / f"{name}.npz", **arrays)
    (root / "bad" / "text.npz").write_text("not a zip archive\n")
    (root / "bad" / "empty.npz").write_bytes(b"")
    (root / "bad" / "truncated.npz").write_bytes((root / "sym.npz").read_bytes()[:200])
    (root / "bad" / "adir.npz").mkdir()
    # results: a good sym one, and bad ones
    assert main_rc(["solve", str(root / "sym.npz"), "--out", str(root / "res.npz"),
                    "--max-iter", "3", "-q"]) == 0
    U = np.load(root / "res.npz")["U"]
    _write(root / "res_noU.npz", X=np.zeros((D, D)))
    _write(root / "res_complexU.npz", U=U + 1j, model=np.array("sym"))
    _write(root / "res_nanU.npz", U=np.full_like(U, np.nan), model=np.array("sym"))
    _write(root / "res_shape.npz", U=np.ones((D + 2, 1)), model=np.array("sym"))
    _write(root / "res_model.npz", U=U, model=np.array("deep"))
    _write(root / "res_asym_noV.npz", U=U, model=np.array("asym"))
    (root / "existing.npz").write_bytes(b"precious")
    (root / "afile").write_text("a plain file\n")
    os.symlink(root / "sym.npz", root / "link_to_problem.npz")
    os.symlink(root / "existing.npz", root / "link_to_other.npz")
    (root / "outdir").mkdir()
    return root


def main_rc(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


S, R, BAD = "{sym}", "{rect}", "{bad}"
OUT = ["--out", "{out}"]
SOLVE = ["solve", S, *OUT]

CATALOGUE: list[tuple[str, list[str]]] = [
    # --- usage ---------------------------------------------------------------------------
    ("unknown-command", ["bogus"]),
    ("unknown-option", ["solve", S, *OUT, "--bogus"]),
    ("missing-out", ["solve", S]),
    ("missing-problem-arg", ["solve"]),
    ("rank-not-int", [*SOLVE, "--rank", "abc"]),
    ("step-not-number", [*SOLVE, "--step", "fast"]),
    ("unknown-solver", [*SOLVE, "--solver", "adam"]),
    ("unknown-model", [*SOLVE, "--model", "deep"]),
    ("unknown-init", [*SOLVE, "--init", "zeros"]),
    # --- files -----------------------------------------------------------------------------
    ("problem-missing", ["solve", "{root}/nope.npz", *OUT]),
    ("problem-dir", ["solve", "{bad}/adir.npz", *OUT]),
    ("out-missing-dir", ["solve", S, "--out", "{root}/missing/x.npz"]),
    ("out-under-file", ["solve", S, "--out", "{root}/afile/x.npz"]),
    ("out-is-dir", ["solve", S, "--out", "{root}/outdir"]),
    ("out-is-problem", ["solve", S, "--out", S]),
    ("out-is-problem-force", ["solve", S, "--out", S, "--force"]),
    ("out-symlink-to-problem", ["solve", S, "--out", "{root}/link_to_problem.npz", "--force"]),
    ("out-symlink", ["solve", S, "--out", "{root}/link_to_other.npz", "--force"]),
    ("out-exists", ["solve", S, "--out", "{root}/existing.npz"]),
    ("out-empty", ["solve", S, "--out", ""]),
    ("out-is-init-from", ["solve", S, "--out", "{root}/res.npz", "--force", "--init-from",
                          "{root}/res.npz"]),
    ("out-unwritable", ["solve", S, "--out", "/sys/lowranklab-x.npz"]),
    # --- solve options -------------------------------------------------------------------
    ("rank-0", [*SOLVE, "--rank", "0"]),
    ("rank-negative", [*SOLVE, "--rank", "-1"]),
    ("rank-too-big", [*SOLVE, "--rank", "9"]),
    ("step-0", [*SOLVE, "--step", "0"]),
    ("step-negative", [*SOLVE, "--step", "-1"]),
    ("step-nan", [*SOLVE, "--step", "nan"]),
    ("step-inf", [*SOLVE, "--step", "inf"]),
    ("tol-negative", [*SOLVE, "--tol", "-1"]),
    ("tol-nan", [*SOLVE, "--tol", "nan"]),
    ("gtol-negative", [*SOLVE, "--gtol", "-1e-3"]),
    ("gtol-nan", [*SOLVE, "--gtol", "nan"]),
    ("max-iter-negative", [*SOLVE, "--max-iter", "-1"]),
    ("seed-negative", [*SOLVE, "--seed", "-1"]),
    ("mu-with-sym", [*SOLVE, "--mu", "0.5"]),
    ("mu-negative", [*SOLVE, "--model", "asym", "--mu", "-1"]),
    ("mu-nan", [*SOLVE, "--model", "asym", "--mu", "nan"]),
    ("noise-with-gd", [*SOLVE, "--noise", "0.1"]),
    ("noise-negative", [*SOLVE, "--solver", "noisy-gd", "--noise", "-1"]),
    ("noise-nan", [*SOLVE, "--solver", "perturbed-gd", "--noise", "nan"]),
    ("init-norm-0", [*SOLVE, "--init-norm", "0"]),
    ("init-norm-nan", [*SOLVE, "--init-norm", "nan"]),
    ("init-rank-without-init", [*SOLVE, "--init-rank", "1"]),
    ("init-rank-missing", [*SOLVE, "--init", "rank"]),
    ("init-rank-too-big", [*SOLVE, "--rank", "2", "--init", "rank", "--init-rank", "3"]),
    ("init-spectral-norm", [*SOLVE, "--init", "spectral", "--init-norm", "1"]),
    ("init-from-missing", [*SOLVE, "--init-from", "{root}/nope.npz"]),
    ("init-from-and-init", [*SOLVE, "--init-from", "{root}/res.npz", "--init", "small"]),
    ("init-from-merit", [*SOLVE, "--solver", "merit", "--init-from", "{root}/res.npz"]),
    ("init-from-glrl", [*SOLVE, "--solver", "glrl", "--init-from", "{root}/res.npz"]),
    ("init-from-rgd", [*SOLVE, "--solver", "rgd", "--init-from", "{root}/res.npz"]),
    ("init-from-not-result", [*SOLVE, "--init-from", "{root}/afile"]),
    ("init-from-wrong-rank", [*SOLVE, "--rank", "2", "--init-from", "{root}/res.npz"]),
    ("init-from-asym-needs-V", [*SOLVE, "--model", "asym", "--init-from", "{root}/res.npz"]),
    ("init-from-complex", [*SOLVE, "--init-from", "{root}/res_complexU.npz"]),
    ("merit-asym", [*SOLVE, "--solver", "merit", "--model", "asym"]),
    ("merit-tol", [*SOLVE, "--solver", "merit", "--tol", "1e-8"]),
    ("merit-gtol", [*SOLVE, "--solver", "merit-euler", "--gtol", "1e-8"]),
    ("merit-gamma-0", [*SOLVE, "--solver", "merit", "--gamma", "0"]),
    ("merit-init-spectral", [*SOLVE, "--solver", "merit", "--init", "spectral"]),
    ("merit-bfgs-step", [*SOLVE, "--solver", "merit-bfgs", "--step", "0.1"]),
    ("sdp-rank", [*SOLVE, "--solver", "sdp", "--rank", "2"]),
    ("sdp-seed", [*SOLVE, "--solver", "sdp", "--seed", "3"]),
    ("gamma-with-gd", [*SOLVE, "--gamma", "10"]),
    ("glrl-asym", [*SOLVE, "--solver", "glrl", "--model", "asym"]),
    ("glrl-tol", [*SOLVE, "--solver", "glrl", "--tol", "1e-3"]),
    ("glrl-epsilon-0", [*SOLVE, "--solver", "glrl", "--epsilon", "0"]),
    ("glrl-init", [*SOLVE, "--solver", "glrl", "--init", "small"]),
    ("glrl-rect", ["solve", R, *OUT, "--solver", "glrl"]),
    ("epsilon-with-gd", [*SOLVE, "--epsilon", "1e-3"]),
    ("gd-step-rule", [*SOLVE, "--step-rule", "sigma"]),
    ("sdp-bm-step", [*SOLVE, "--solver", "sdp-bm", "--step", "1e-3"]),
    ("scaled-gd-noise", [*SOLVE, "--solver", "scaled-gd", "--noise", "1e-3"]),
    ("line-search-bogus", [*SOLVE, "--line-search", "bogus"]),
    ("noisy-line-search", [*SOLVE, "--solver", "noisy-gd", "--line-search", "armijo"]),
    ("rgd-step-rule-bogus", [*SOLVE, "--solver", "rgd", "--step-rule", "bogus"]),
    ("rgd-model-sym", [*SOLVE, "--solver", "rgd", "--model", "sym"]),
    ("rgd-init-rank", [*SOLVE, "--solver", "rgd", "--init", "rank", "--init-rank", "1"]),
    ("fixed-rank-gd", [*SOLVE, "--model", "fixed-rank", "--solver", "gd"]),
    ("sym-on-rect", ["solve", R, *OUT]),
    ("rank-too-big-rect", ["solve", R, *OUT, "--model", "asym", "--rank", "6"]),
    # --- inspect ---------------------------------------------------------------------------
    ("inspect-missing", ["inspect", "{root}/nope.npz", "--problem", S]),
    ("inspect-not-npz", ["inspect", "{root}/afile", "--problem", S]),
    ("inspect-no-U", ["inspect", "{root}/res_noU.npz", "--problem", S]),
    ("inspect-complex-U", ["inspect", "{root}/res_complexU.npz", "--problem", S]),
    ("inspect-nan-U", ["inspect", "{root}/res_nanU.npz", "--problem", S]),
    ("inspect-shape", ["inspect", "{root}/res_shape.npz", "--problem", S]),
    ("inspect-model", ["inspect", "{root}/res_model.npz", "--problem", S]),
    ("inspect-asym-no-V", ["inspect", "{root}/res_asym_noV.npz", "--problem", S]),
    ("inspect-problem-missing", ["inspect", "{root}/res.npz", "--problem", "{root}/nope.npz"]),
    ("inspect-wrong-problem", ["inspect", "{root}/res.npz", "--problem", R]),
    ("inspect-f-star-nan", ["inspect", "{root}/res.npz", "--problem", S, "--f-star", "nan"]),
    # --- run / figure / reproduce / sweep --------------------------------------------------
    ("run-unknown", ["run", "nope.fig1"]),
    ("run-r-0", ["run", "demo.recovery", "--quick", "--set", "r=0", "--out", "{root}/o"]),
    ("run-d-0", ["run", "demo.recovery", "--quick", "--set", "d=0", "--out", "{root}/o"]),
    ("run-oversampling", ["run", "demo.recovery", "--set", "oversampling=-1", "--out",
                          "{root}/o"]),
    ("run-fraction-2", ["run", "demo.recovery", "--set", "fraction=2", "--out", "{root}/o"]),
    ("run-fraction-nan", ["run", "demo.recovery", "--set", "fraction=NaN", "--out",
                          "{root}/o"]),
    ("run-max-iter", ["run", "demo.recovery", "--set", "max_iter=-1", "--out", "{root}/o"]),
    ("run-r-gt-d", ["run", "demo.recovery", "--set", "r=9,d=4", "--out", "{root}/o"]),
    ("run-r-text", ["run", "demo.recovery", "--set", "r=abc", "--out", "{root}/o"]),
    ("run-unknown-key", ["run", "demo.recovery", "--set", "foo=1", "--out", "{root}/o"]),
    ("run-unknown-keys-comma", ["run", "demo.recovery", "--set", "a=1,b=2", "--out",
                                "{root}/o"]),
    ("run-set-no-equals", ["run", "demo.recovery", "--set", "r", "--out", "{root}/o"]),
    ("run-set-no-value", ["run", "demo.recovery", "--set", "r=", "--out", "{root}/o"]),
    ("run-set-twice", ["run", "demo.recovery", "--set", "r=1", "--set", "r=2", "--out",
                       "{root}/o"]),
    ("run-seed-negative", ["run", "demo.recovery", "--seed", "-1", "--out", "{root}/o"]),
    ("run-out-sys", ["run", "demo.recovery", "--quick", "--out", "/sys/lowranklab-x"]),
    ("run-out-under-file", ["run", "demo.recovery", "--quick", "--out", "{root}/afile/sub"]),
    ("run-out-is-file", ["run", "demo.recovery", "--quick", "--out", "{root}/afile"]),
    ("figure-unknown", ["figure", "nope.fig1", "--out", "{root}"]),
    ("figure-no-dir", ["figure", "demo.recovery", "--out", "{root}/nope"]),
    ("figure-no-results", ["figure", "demo.recovery", "--out", "{root}/outdir"]),
    ("reproduce-only", ["reproduce", "--only", "nope", "--out", "{root}/o"]),
    ("reproduce-out-file", ["reproduce", "--only", "demo", "--out", "{root}/afile"]),
    ("sweep-unknown", ["sweep", "nope.fig1"]),
    ("sweep-grid-range", ["sweep", "demo.recovery", "--grid", "r=0,1", "--store",
                          "{root}/o/s.sqlite"]),
    ("sweep-grid-syntax", ["sweep", "demo.recovery", "--grid", "r", "--store",
                           "{root}/o/s.sqlite"]),
    ("sweep-seeds-text", ["sweep", "demo.recovery", "--seeds", "a", "--store",
                          "{root}/o/s.sqlite"]),
    ("sweep-seeds-negative", ["sweep", "demo.recovery", "--seeds", "-1", "--store",
                              "{root}/o/s.sqlite"]),
    ("sweep-executor", ["sweep", "demo.recovery", "--executor", "gpu", "--store",
                        "{root}/o/s.sqlite"]),
    ("sweep-workers", ["sweep", "demo.recovery", "--workers", "0", "--store",
                       "{root}/o/s.sqlite"]),
    ("sweep-unknown-key", ["sweep", "demo.recovery", "--set", "foo=1", "--store",
                           "{root}/o/s.sqlite"]),
    ("sweep-export-exists", ["sweep", "demo.recovery", "--export", "{root}/existing.npz",
                             "--store", "{root}/o/s.sqlite"]),
    ("sweep-store-dir", ["sweep", "demo.recovery", "--store", "{root}/outdir"]),
]
BAD_PROBLEMS = ["complex_A", "complex_b", "nan_b", "inf_A", "nan_truth", "complex_truth",
                "truth_shape", "only_U_true", "both_truths", "nan_U_true", "A_1d", "A_no_rows",
                "A_zero", "A_not_square", "A_shape_mismatch", "A_strings", "A_object",
                "b_length", "missing_b", "no_keys", "float_shape", "huge_shape", "shape_3",
                "shape_negative", "rows_float", "rows_out_of_range", "rows_negative",
                "cols_length", "values_length", "values_complex", "values_nan",
                "duplicate_conflict", "no_entries", "missing_shape", "symmetric_array",
                "symmetric_rect", "text", "empty", "truncated"]
for _name in BAD_PROBLEMS:
    CATALOGUE.append((f"problem-{_name}", ["solve", f"{BAD}/{_name}.npz", *OUT]))
for _name in ("complex_A", "nan_truth", "huge_shape", "text"):  # the other readers
    CATALOGUE.append((f"inspect-problem-{_name}", ["inspect", "{root}/res.npz", "--problem",
                                                   f"{BAD}/{_name}.npz"]))
    CATALOGUE.append((f"merit-problem-{_name}", ["solve", f"{BAD}/{_name}.npz", *OUT,
                                                 "--solver", "merit"]))


def _snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "link:" + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p)] = "dir"
    return out


def test_catalogue_size():
    assert len(CATALOGUE) >= 150
    assert len({name for name, _ in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("name, argv", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_input_is_one_line_exit_2_and_changes_no_file(files, capsys, name, argv):
    if "/sys/" in " ".join(argv) and not Path("/sys").is_dir():
        pytest.skip("no /sys here")
    subs = {"{root}": str(files), "{sym}": str(files / "sym.npz"),
            "{rect}": str(files / "rect.npz"), "{bad}": str(files / "bad"),
            "{out}": str(files / "new-result.npz")}
    args = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    before = _snapshot(files)
    rc = main_rc(args)
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in out + err
    assert out.strip() == ""
    assert _snapshot(files) == before, "a bad input created, changed or removed a file"


# --- the PROBLEM.npz fuzzer -------------------------------------------------------------------

def _bad_values(draw, shape):
    """A valid float array of `shape`, or one broken in one way."""
    kind = draw(st.sampled_from(["ok", "ok", "ok", "nan", "inf", "complex", "int", "bool",
                                 "str", "wrong_shape", "empty", "3d", "scalar"]))
    a = np.asarray(draw(st.lists(st.floats(-3, 3), min_size=int(np.prod(shape)),
                                 max_size=int(np.prod(shape)))), dtype=float).reshape(shape)
    if kind == "nan" and a.size:
        a.flat[0] = np.nan
    elif kind == "inf" and a.size:
        a.flat[-1] = -np.inf
    elif kind == "complex":
        a = a + 1j
    elif kind == "int":
        a = np.round(a).astype(np.int64)
    elif kind == "bool":
        a = a > 0
    elif kind == "str":
        a = a.astype(str)
    elif kind == "wrong_shape":
        a = np.zeros(tuple(s + 1 for s in shape))
    elif kind == "empty":
        a = np.zeros((0,) + tuple(shape[1:]))
    elif kind == "3d":
        a = np.zeros((2, 2, 2))
    elif kind == "scalar":
        a = np.array(1.0)
    return a


@st.composite
def problem_contents(draw):
    d1 = draw(st.integers(1, 4))
    d2 = draw(st.integers(1, 4))
    data = {}
    if draw(st.booleans()):  # dense sensing
        m = draw(st.integers(1, 6))
        data["A"] = _bad_values(draw, (m, d1 * d2))
        data["b"] = _bad_values(draw, (m,))
        if draw(st.booleans()):
            data["shape"] = np.array([d1, d2])
    else:
        m = draw(st.integers(1, d1 * d2))
        rows = np.array(draw(st.lists(st.integers(-1, d1), min_size=m, max_size=m)))
        cols = np.array(draw(st.lists(st.integers(-1, d2), min_size=m, max_size=m)))
        data.update(rows=rows, cols=cols, values=_bad_values(draw, (m,)),
                    shape=draw(st.sampled_from([np.array([d1, d2]), np.array([d1, d2]),
                                                np.array([float(d1), d2]),
                                                np.array([d1, d2, 1]), np.array([0, d2])])))
    if draw(st.booleans()):
        data["X_true"] = _bad_values(draw, (d1, d2))
    if draw(st.booleans()):
        data["symmetric"] = draw(st.sampled_from([np.array(True), np.array(False),
                                                  np.array([1, 0]), np.array(2.5)]))
    for k in draw(st.lists(st.sampled_from(sorted(data)), max_size=1)):
        del data[k]  # sometimes a key is missing
    return data


def _is_clean(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind in "biuf" and bool(np.all(np.isfinite(a)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem_contents())
def test_problem_fuzz_loads_clean_or_raises_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "p.npz"
    _write(path, **data)
    try:
        P = Problem.load(path)
    except ValueError as e:
        assert str(e) and "\n" not in str(e).strip()
        return
    d1, d2 = P.shape
    assert P.b.shape == (P.op.m,) and _is_clean(P.b)
    assert np.asarray(getattr(P.op, "A", 0)).dtype.kind != "c"
    if P.truth is not None:
        assert P.truth.shape == (d1, d2) and _is_clean(P.truth)
    if isinstance(P.op, EntrySampling):
        flat = P.op.rows * d2 + P.op.cols
        for f in np.unique(flat):  # repeated entries carry one value
            assert np.unique(P.b[flat == f]).size == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem_contents())
def test_problem_fuzz_through_the_cli(tmp_path_factory, data):
    """Through `solve`: exit 0 with a finite RESULT.npz, or exit 2 with one line and no file."""
    root = tmp_path_factory.mktemp("fuzzcli")
    _write(root / "p.npz", **data)
    out = root / "r.npz"
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main_rc(["solve", str(root / "p.npz"), "--out", str(out), "--model", "asym",
                      "--max-iter", "2", "-q"])
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if rc == 0:
        z = np.load(out, allow_pickle=False)
        assert all(_is_clean(z[k]) for k in ("U", "V", "X"))
    else:
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        assert not out.exists()


# --- overwrite with --force, result kinds, no NaN -------------------------------------------

def test_force_overwrites_an_existing_result_atomically(files, tmp_path):
    out = tmp_path / "r.npz"
    out.write_bytes(b"old")
    assert main_rc(["solve", str(files / "sym.npz"), "--out", str(out), "--max-iter", "2",
                    "-q"]) == 2
    assert out.read_bytes() == b"old"
    assert main_rc(["solve", str(files / "sym.npz"), "--out", str(out), "--max-iter", "2",
                    "-q", "--force"]) == 0
    assert "U" in np.load(out).files
    assert [p.name for p in tmp_path.iterdir()] == ["r.npz"]  # no temporary file left


def test_bare_out_name_is_written_as_given(files, tmp_path):
    out = tmp_path / "bare"
    assert main_rc(["solve", str(files / "sym.npz"), "--out", str(out), "--max-iter", "2",
                    "-q"]) == 0
    assert out.is_file() and not (tmp_path / "bare.npz").exists()


@pytest.mark.parametrize("args", [
    ["--model", "fixed-rank", "--rank", "1", "--max-iter", "5"],
    ["--solver", "glrl", "--max-iter", "50"],
    ["--solver", "merit-bfgs", "--max-iter", "20"],
    ["--model", "asym", "--mu", "0.5", "--max-iter", "5"],
])
def test_every_result_kind_is_inspectable_and_finite(files, tmp_path, capsys, args):
    out = tmp_path / "r.npz"
    assert main_rc(["solve", str(files / "sym.npz"), "--out", str(out), "-q", *args]) == 0
    z = np.load(out, allow_pickle=False)
    for k in z.files:
        if z[k].dtype.kind == "f" and not k.startswith("trace_"):
            assert np.all(np.isfinite(z[k])), k
    assert "step" not in z.files or np.isfinite(z["step"])
    capsys.readouterr()
    assert main_rc(["inspect", str(out), "--problem", str(files / "sym.npz"), "--json"]) == 0
    assert '"kind"' in capsys.readouterr().out


def test_version_and_python_m(tmp_path):
    from lowranklab import __version__

    cp = subprocess.run([sys.executable, "-m", "lowranklab", "--version"], capture_output=True,
                        text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]
                                                                          / "src")})
    assert cp.returncode == 0 and cp.stdout.strip() == f"lowranklab {__version__}"


def test_help_has_no_bool_metavar(capsys):
    for cmd in ([], ["solve"], ["run"], ["sweep"], ["reproduce"], ["inspect"]):
        assert main_rc([*cmd, "--help"]) == 0
        assert "<bool>" not in capsys.readouterr().out


def test_help_does_not_import_numpy():
    """`lowranklab --help` stays fast: the command module imports neither NumPy nor SciPy."""
    code = ("import sys; from lowranklab.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas', 'pydantic') "
            "if m in sys.modules))")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip().splitlines()[-1] == "[]"


# --- the atomic writer ------------------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    p = tmp_path / "r.npz"
    write_npz(p, {"a": np.arange(3)})
    good = p.read_bytes()
    with pytest.raises(RuntimeError), atomic_write(p) as fh:
        fh.write(b"partial")
        raise RuntimeError("disk full")
    assert p.read_bytes() == good
    assert [q.name for q in tmp_path.iterdir()] == ["r.npz"]
    with pytest.raises(TypeError, match="object"):
        write_npz(p, {"a": np.array([None], dtype=object)})
    assert p.read_bytes() == good


def test_atomic_write_replaces_a_symlink_not_its_target(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "link.txt"
    os.symlink(target, link)
    write_text(link, "new")
    assert target.read_text() == "keep" and not link.is_symlink()
    assert link.read_text() == "new"


def test_atomic_write_keeps_permissions(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("x")
    p.chmod(0o640)
    write_text(p, "y")
    assert p.stat().st_mode & 0o777 == 0o640


# --- operators' fast paths --------------------------------------------------------------------

def test_entry_sampling_fast_paths_check_factor_shapes():
    op = EntrySampling(np.array([0, 1, 2]), np.array([0, 1, 2]), (3, 3))
    U, V = np.ones((3, 1)), np.ones((3, 1))
    assert np.allclose(op.forward_lr(U, V), 1.0)
    for bad in [(np.ones((2, 1)), V), (U, np.ones((3, 2))), (np.ones(3), V)]:
        with pytest.raises(ValueError, match="factors must have shapes"):
            op.forward_lr(*bad)
    with pytest.raises(ValueError, match="factors"):
        op.forward_sym(np.ones((2, 1)))
    with pytest.raises(TypeError, match="real"):
        op.forward_lr(U + 1j, V)
    with pytest.raises(ValueError, match="Z must have 3 rows"):
        op.adjoint_times(np.ones(3), np.ones((4, 1)))
    with pytest.raises(TypeError, match="shape"):
        EntrySampling(np.array([0]), np.array([0]), (3.0, 3))


def test_api_rejects_complex_and_nonfinite_inputs(rng):
    from lowranklab.operators import DenseSensing

    P = sensing_problem(3, 1, 8, rng)
    with pytest.raises(TypeError, match="A must be real"):
        DenseSensing(P.op.A + 1j, (3, 3))
    with pytest.raises(TypeError, match="real"):
        Problem(P.op, P.b + 1j, None)
    with pytest.raises(ValueError, match="non-finite"):
        Problem(P.op, P.b, np.full((3, 3), np.nan))
    with pytest.raises(TypeError, match="real"):
        Problem(P.op, P.b, as_dense(P.truth) + 1j)
    with pytest.raises(TypeError, match="y must be real"):
        P.op.adjoint(P.b + 1j)
    with pytest.raises(TypeError, match="b must be real"):
        P.loss().__class__(P.op, P.b + 1j)


# --- experiment configs -----------------------------------------------------------------------

def test_set_parses_several_assignments_and_json_values():
    from lowranklab.cli.experiments import parse_sets

    assert parse_sets(["r=2,d=20", "sigma=[3.0,2.0],name=abc", "x=true"]) == {
        "r": 2, "d": 20, "sigma": [3.0, 2.0], "name": "abc", "x": True}
    assert parse_sets(["label=a,b"]) == {"label": "a,b"}  # a comma not followed by key=


def test_help_config_lists_every_key_with_its_range(capsys):
    from lowranklab.experiments import get

    assert main_rc(["run", "demo.recovery", "--help-config"]) == 0
    out = capsys.readouterr().out
    for key in get("demo.recovery").config.model_fields:
        assert f"\n  {key} " in out
    assert "fraction" in out and "in (0, 1]" in out


def test_every_registered_default_and_quick_config_is_in_range():
    from pydantic import ValidationError

    from lowranklab.experiments import load_all

    for exp in load_all().values():
        for quick in (False, True):
            exp.make_config(quick=quick)
        if "r" in exp.config.model_fields and isinstance(exp.make_config(quick=True).r, int):
            with pytest.raises(ValidationError, match=r"\br\b"):
                exp.make_config(quick=True, overrides={"r": 0})

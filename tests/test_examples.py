"""The real-data examples run at a small size (full size by hand: see docs/examples.md)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_camera_inpainting_small(tmp_path):
    pytest.importorskip("skimage")
    s = _load("camera_inpainting").main(["--size", "32", "--missing", "0.5", "--out",
                                         str(tmp_path)])
    assert (tmp_path / "camera.png").stat().st_size > 0
    saved = json.loads((tmp_path / "camera.json").read_text())
    assert saved == json.loads(json.dumps(s))
    for r in s["results"].values():
        assert 10 < r["psnr_db"] < 60


def test_digits_imputation_small(tmp_path):
    pytest.importorskip("sklearn")
    s = _load("digits_imputation").main(["--rows", "80", "--out", str(tmp_path)])
    assert (tmp_path / "digits.png").stat().st_size > 0
    res = s["results"]
    mean = res["column mean"]["rmse_missing"]
    ours = res["lowranklab MatrixCompletion(rank='auto')"]["rmse_missing"]
    assert ours < mean  # a low-rank fit beats the column mean on digits


def test_faithful_softimpute_recovers_a_low_rank_matrix():
    import numpy as np

    si = _load("softimpute")
    g = np.random.default_rng(0)
    M = g.standard_normal((60, 3)) @ g.standard_normal((3, 40))
    keep = g.random(M.shape) < 0.6
    F = si.soft_impute(np.where(keep, M, np.nan), max_iters=300, threshold=1e-6)
    err = np.linalg.norm((F - M)[~keep]) / np.linalg.norm(M[~keep])
    assert err < 0.1  # shrinkage λ = σ_max/50 biases it, but it finds the matrix

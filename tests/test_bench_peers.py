"""The peer benchmark suite (benchmarks/peers.py) and its ALS baseline (benchmarks/als.py), on
tiny instances: ALS solves its row problems exactly and recovers a planted matrix; every record
reaches the tolerance it claims and its ratio is ours / peer."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import peers
from benchmarks.als import _half_step, _Side, als
from lowranklab.lowrank import LowRank, fro_dist_sq, fro_norm
from lowranklab.problems import completion_problem


def test_als_half_step_is_the_exact_row_least_squares(rng):
    d1, d2, r = 7, 9, 3
    rows = np.array([0, 0, 0, 0, 2, 2, 2, 2, 2, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6])
    cols = rng.integers(0, d2, rows.size)
    b = rng.standard_normal(rows.size)
    V = rng.standard_normal((d2, r))
    lam = 0.3
    U = _half_step(_Side(rows, cols, b, d1), V, lam, block=5)  # blocks split the rows
    for i in range(d1):
        k = rows == i
        W = V[cols[k]]
        want = np.linalg.solve(W.T @ W + lam * np.eye(r), W.T @ b[k]) if k.any() else 0.0
        np.testing.assert_allclose(U[i], want, rtol=1e-10, atol=1e-12)  # empty rows: u_i = 0


def test_als_recovers_a_planted_matrix(rng):
    prob = completion_problem(60, 50, 3, 0.5, rng)
    x0 = peers.spectral_point(prob, 3)
    errs = []

    def cb(U, V):
        errs.append(np.sqrt(fro_dist_sq(LowRank(U, V), prob.truth)) / fro_norm(prob.truth))
        return errs[-1] <= 1e-9

    U, V, k = als(prob.op.rows, prob.op.cols, prob.b, prob.shape, x0.V * np.sqrt(x0.S),
                  max_sweeps=200, callback=cb)
    assert errs[-1] <= 1e-9 and k == len(errs) < 200
    assert errs[1] < errs[0]  # it descends


@pytest.mark.parametrize("kw, match", [({"V0": np.zeros((4, 2))}, "V0"),
                                       ({"ridge": -1.0}, "ridge"),
                                       ({"max_sweeps": 0}, "max_sweeps")])
def test_als_rejects_bad_input(kw, match):
    args = {"V0": np.ones((5, 2)), **kw}
    V0 = args.pop("V0")
    with pytest.raises(ValueError, match=match):
        als(np.array([0, 1]), np.array([1, 2]), np.ones(2), (3, 5), V0, **args)


def _check_records(recs, prefix, peer_names):
    assert sorted({r["peer"] for r in recs}) == sorted(peer_names)
    assert {r["ours"] for r in recs} == set(peers.OURS)
    assert len({r["name"] for r in recs}) == len(recs)  # unique names
    for r in recs:
        assert (r["name"].endswith(f"__{r['ours']}")) == (r["ours"] != next(iter(peers.OURS)))
        assert r["name"].startswith(prefix)
        assert r["ratio"] == pytest.approx(r["ours_s"] / r["reference_s"])
        assert r["ours_reached"] == (r["ours_final"] <= peers.TOL)
        assert r["reference_reached"] == (r["reference_final"] <= peers.TOL)


def test_completion_records_ours_and_als_reach_the_tolerance():
    recs = peers.bench_completion_ttol(80, 0.4, 1, 60.0, 0, rank=3, peers=["als"])
    _check_records(recs, "completion", ["als"])
    for r in recs:
        assert r["ours_reached"] and r["reference_reached"], r
        assert r["m"] == round(0.4 * 80 * 80) and r["init_s"] > 0


def test_completion_pymanopt_peer_reaches_the_tolerance():
    pytest.importorskip("pymanopt")
    recs = peers.bench_completion_ttol(80, 0.4, 1, 60.0, 0, rank=3, peers=["pymanopt_cg"])
    _check_records(recs, "completion", ["pymanopt_cg"])
    assert all(r["reference_reached"] for r in recs)


def test_completion_softimpute_peer_reaches_the_tolerance():
    pytest.importorskip("fancyimpute")
    recs = peers.bench_completion_ttol(60, 0.5, 1, 60.0, 0, rank=3, peers=["softimpute"])
    assert all(r["reference_reached"] for r in recs)


def test_every_method_is_warmed_up_once_before_the_timed_rounds(monkeypatch):
    calls = []

    def method(tag):
        def fn(prob, x0, budget, **kw):
            calls.append((tag, prob.shape[0], budget))
            return peers.Run(1.0, 1, True, 0.0, cpu=1.0)
        return fn

    monkeypatch.setattr(peers, "OURS", {"a": (method("a"), {}), "b": (method("b"), {})})
    monkeypatch.setitem(peers.PEERS_COMPLETION, "als", (method("als"), {}, "ALS", ""))
    peers.bench_completion_ttol(40, 0.5, 2, 9.0, 0, rank=2, peers=["als"])
    warm = [(t, 40, peers.WARM_BUDGET) for t in ("a", "b", "als")]
    timed = [(t, 40, 9.0) for t in ("a", "b", "als")]
    assert calls == warm + timed + timed  # warm-up first, untimed, then interleaved rounds


def test_budget_marks_not_reached():
    # a budget of 0 s stops every method after its first check: none reaches 1e-6
    recs = peers.bench_completion_ttol(80, 0.4, 1, 0.0, 0, rank=3, peers=["als"])
    assert not any(r["ours_reached"] or r["reference_reached"] for r in recs)


def test_scale_and_generate_records():
    rec = peers.bench_scale(300, 9000, 3, 0)
    assert rec["m"] == 9000 and rec["index_dtype"] == "int32"
    assert 0 < rec["instance_bytes"] <= rec["peak_generate_bytes"]
    assert rec["peak_step_bytes"] > 0 and rec["step_ms"] > 0
    assert rec["ns_per_entry_rank"] == pytest.approx(1e6 * rec["step_ms"] / (9000 * 10))
    gen = peers.bench_generate(300, 9000, 3, 0)
    assert gen["m"] == 9000 and gen["seconds"] <= gen["seconds_max"]


def test_threads_record():
    """The 1- and 2-thread record at a small size: both runs reach the tolerance, the thread
    setting is restored, and the speed-ups are the ratios of the times they report."""
    from lowranklab.operators import kernels

    rec = peers.bench_threads(300, 0.2, 1, 0, budget=30.0)
    assert rec["rcg_reached"] and kernels.threads() == 1
    assert rec["threads"] == 2 and 1 <= rec["threads_used"] <= 2
    assert rec["step_speedup"] == pytest.approx(rec["step_ms_1"] / rec["step_ms_n"])
    assert rec["rcg_speedup"] == pytest.approx(rec["rcg_s_1"] / rec["rcg_s_n"])


def test_micro_benchmark_records(tmp_path):
    """benchmarks/micro.py times every case (one round) and writes its records atomically."""
    from benchmarks import micro

    recs = micro.main(["--repeats", "1", "--json", str(tmp_path / "m.json")])
    names = {r["name"] for r in recs}
    assert {"line_gram_n1000", "scaled_solve_n1000", "manifold_qr_1000x10",
            "distance_kept_n1000"} <= names
    assert all(r["ours_s"] > 0 and r["reference_s"] > 0 and np.isfinite(r["ratio"])
               for r in recs)
    assert (tmp_path / "m.json").exists()

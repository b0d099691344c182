"""Sweeps: grid expansion, durable store, resumption, and the CLI."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from lowranklab.cli import app
from lowranklab.sweep import ResultStore, Task, expand, parse_values, run_sweep

SMALL = {"d": 12, "r": 1, "n1": 20, "n2": 15, "fraction": 0.6, "max_iter": 3000}


def test_expand_is_the_product_with_seeds():
    tasks = expand("demo.recovery", {"r": [1, 2], "d": [10]}, [0, 1, 2], fixed={"mu": 0.5})
    assert len(tasks) == 2 * 1 * 3
    assert len({t.key for t in tasks}) == 6
    assert all(t.config["mu"] == 0.5 for t in tasks)
    assert Task("x", {"a": 1, "seed": 0}).key == Task("x", {"seed": 0, "a": 1}).key
    with pytest.raises(ValueError, match="both fixed and swept"):
        expand("demo.recovery", {"r": [1]}, [0], fixed={"r": 2})
    with pytest.raises(ValueError, match="non-empty"):
        expand("demo.recovery", {"r": []}, [0])


def test_parse_values():
    assert parse_values("0:4") == [0, 1, 2, 3]
    assert parse_values("1,2.5,abc") == [1, 2.5, "abc"]


def test_sweep_stores_each_task_and_resumes(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    fixed = {k: v for k, v in SMALL.items() if k != "r"}
    tasks = expand("demo.recovery", {"r": [1, 2]}, [0], fixed=fixed)
    seen = []
    counts = run_sweep(tasks, store, on_done=lambda t, i, n: seen.append(t.key))
    assert counts == {"total": 2, "skipped": 0, "run": 2, "failed": 0}
    assert len(store) == 2 and sorted(seen) == sorted(t.key for t in tasks)
    # a second run (as after a kill) skips what is stored and runs only the new task
    more = tasks + expand("demo.recovery", {"r": [3]}, [0], fixed=fixed)
    counts = run_sweep(more, ResultStore(tmp_path / "s.sqlite"), on_done=lambda *a: None)
    assert counts["skipped"] == 2 and counts["run"] == 1
    df = store.to_frame()
    assert isinstance(df, pd.DataFrame)
    assert set(df.cfg_r) == {1, 2, 3} and {"rel_error", "problem", "task"} <= set(df.columns)
    claims = store.claims_frame()
    assert len(claims) == 3 * 2 and claims.holds.all()


def test_failed_task_does_not_lose_others(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    fixed = {k: v for k, v in SMALL.items() if k != "r"}
    tasks = expand("demo.recovery", {"r": [1, 50]}, [0], fixed=fixed)  # r=50 > d: invalid
    counts = run_sweep(tasks, store, on_done=lambda *a: None)
    assert counts["run"] == 1 and counts["failed"] == 1 and len(store) == 1


def test_sweep_cli(tmp_path):
    runner = CliRunner()
    args = ["sweep", "demo.recovery", "--grid", "r=1,2", "--seeds", "0:1",
            "--store", str(tmp_path / "s.sqlite"), "--export", str(tmp_path / "x.parquet")]
    for k, v in SMALL.items():
        if k != "r":
            args += ["--set", f"{k}={v}"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 run, 0 already stored" in res.output
    assert len(pd.read_parquet(tmp_path / "x.parquet")) > 0
    res = runner.invoke(app, ["sweep", "demo.recovery", "--grid", "nope=1",
                              "--store", str(tmp_path / "s.sqlite")])
    assert res.exit_code == 2 and "no config field" in res.output


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_parallel_executors_match_serial(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    fixed = {k: v for k, v in SMALL.items() if k != "r"}
    tasks = expand("demo.recovery", {"r": [1, 2]}, [0], fixed=fixed)
    serial, par = ResultStore(tmp_path / "a.sqlite"), ResultStore(tmp_path / "b.sqlite")
    run_sweep(tasks, serial, on_done=lambda *a: None)
    counts = run_sweep(tasks, par, executor=executor, workers=2, on_done=lambda *a: None)
    assert counts["run"] == 2
    a = serial.to_frame().sort_values(["cfg_r", "problem", "iter"]).reset_index(drop=True)
    b = par.to_frame().sort_values(["cfg_r", "problem", "iter"]).reset_index(drop=True)
    pd.testing.assert_series_equal(a.rel_error, b.rel_error)  # same seeds, same numbers

"""Sweeps: specs, the store that never lies (kills, Ctrl-C, failures, concurrent sweeps, bad
files), tidy results, executors (serial, local processes, a real Dask cluster), the CLI's bad
inputs and the phase-transition plot."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lowranklab.cli import app
from lowranklab.sweep import (
    SpecError,
    StoreError,
    SweepStore,
    load,
    load_spec,
    register_batched,
    run_sweep,
    spec_from_dict,
)
from lowranklab.sweep import execute as ex
from lowranklab.sweep.families import FAMILIES
from lowranklab.sweep.plot import success_grid
from lowranklab.sweep.spec import grid_values, parse_seeds

SRC = str(Path(__file__).resolve().parents[1] / "src")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sweeps"

# 8 quick sensing tasks (~0.05 s each)
QUICK = {"name": "quick", "family": "sensing", "seeds": [0, 1],
         "params": {"d": 6, "r": 1, "init": "small", "max_iter": 1500},
         "grid": {"oversampling": [1.0, 4.0], "init_norm": [1e-4, 1e-3]},
         "success": "rel_error <= 1e-3"}
# 9 tasks of ~0.7 s each (tol = 0, no stall stop: every task runs its 15000 steps), so that a
# kill or a Ctrl-C
# after the first task lands inside a task, even on an idle host
SLOW = {"name": "slow", "family": "sensing", "seeds": [0, 1, 2],
        "params": {"d": 10, "r": 1, "init": "small", "max_iter": 15000, "tol": 0.0,
                   "stall": False},
        "grid": {"oversampling": [0.5, 0.6, 0.7]}, "success": "rel_error <= 1e-3"}


def toml(d: dict) -> str:
    """A tiny TOML writer for the spec dicts above (tables one level deep)."""
    def val(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)
    top = [f"{k} = {val(v)}" for k, v in d.items() if not isinstance(v, dict) or k == "seeds"]
    tabs = [f"[{k}]\n" + "\n".join(f"{kk} = {val(vv)}" for kk, vv in v.items())
            for k, v in d.items() if isinstance(v, dict) and k != "seeds"]
    return "\n".join(top) + "\n\n" + "\n\n".join(tabs) + "\n"


def write_spec(tmp_path: Path, d: dict, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(toml(d))
    return p


def cli_env() -> dict:
    return {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def start_cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lowranklab.cli", *args], env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(pred, timeout: float = 120.0, what: str = "condition", every: float = 0.1) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def counts(d: Path) -> dict[str, int]:
    try:
        return SweepStore(d).counts()
    except StoreError:
        return {"done": 0, "running": 0}


def done_count(d: Path) -> int:
    try:
        return SweepStore(d).counts()["done"]
    except StoreError:
        return 0


def run_quiet(spec, store, **kw):
    return run_sweep(spec, store, progress=None, **kw)


def fresh(tmp_path, spec, name="s"):
    store = SweepStore(tmp_path / name, create=True)
    store.attach(spec)
    return store


def assert_stored_once(d: Path, n: int) -> pd.DataFrame:
    """Every task done, exactly one row each, a trace for each, none cut short."""
    df = load(d)
    assert len(df) == n and df.key.is_unique
    assert (df.status == "done").all(), df.status.value_counts()
    assert not (df["stop"] == "interrupted").any()
    tr = load(d, table="trace")
    assert set(tr.key) == set(df.key)
    with sqlite3.connect(d / "sweep.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == n
        assert con.execute("SELECT COUNT(*) FROM traces").fetchone()[0] == n
    return df


# -- specs ---------------------------------------------------------------------------------------
def test_spec_expands_validates_and_keys_are_stable(tmp_path):
    spec = load_spec(write_spec(tmp_path, QUICK))
    tasks = spec.tasks()
    assert spec.n_tasks == len(tasks) == 2 * 2 * 2
    assert len({t.key for t in tasks}) == 8
    assert tasks[0].params["d"] == 6 and tasks[0].params["max_iter"] == 1500
    assert tasks[0].params["tol"] == FAMILIES["sensing"].params.model_fields["tol"].default
    again = spec_from_dict(QUICK)
    assert [t.key for t in again.tasks()] == [t.key for t in tasks]
    other = spec_from_dict({**QUICK, "params": {**QUICK["params"], "max_iter": 1501}})
    assert not {t.key for t in other.tasks()} & {t.key for t in tasks}
    assert spec.identity() == again.identity() != other.identity()
    # command-line overrides replace a fixed value with an axis, and the seeds
    over = spec_from_dict(QUICK, grid={"d": [6, 7]}, seeds=[5])
    assert over.n_tasks == 2 * 2 * 2 * 1 and "d" not in over.params


def test_grid_ranges_and_seeds():
    assert grid_values({"start": 1, "stop": 4, "step": 1}, "g") == [1, 2, 3, 4]
    assert grid_values({"start": 0.5, "stop": 2.0, "step": 0.5}, "g") == [0.5, 1.0, 1.5, 2.0]
    assert grid_values({"start": 0.0, "stop": 1.0, "num": 3}, "g") == [0.0, 0.5, 1.0]
    assert grid_values({"start": 1e-3, "stop": 1e-1, "num": 3, "log": True}, "g") == \
        pytest.approx([1e-3, 1e-2, 1e-1])
    assert parse_seeds("0:3") == [0, 1, 2] and parse_seeds("4,2") == [4, 2]
    assert parse_seeds({"start": 2, "stop": 4}) == [2, 3] and parse_seeds([7]) == [7]


@pytest.mark.parametrize("change, match", [
    ({"family": "nope"}, "family must be one of"),
    ({"params": {"d": 6, "bogus": 1}}, "bogus: unknown parameter"),
    ({"grid": {"r": ["abc"]}}, "grid r: .*integer"),
    ({"grid": {"oversampling": {"start": 1, "stop": 2}}}, "exactly one of num and step"),
    ({"grid": {"oversampling": []}}, "at least one value"),
    ({"seeds": [1.5]}, "not an integer seed"),
    ({"seeds": {"start": 0, "stop": 10**12}}, "at most"),
    ({"seeds": [1, 1]}, "repeated seeds"),
    ({"success": "rel_error ~ 3"}, "METRIC OP VALUE"),
    ({"success": "nonsense <= 1"}, "unknown metric"),
    ({"metrics": ["rel_error", "nonsense"]}, "no metric"),
    ({"plot": {"x": "oversampling", "y": "seed"}}, "y must be a grid axis"),
    ({"plot": {"x": "oversampling", "y": "init_norm", "boundary": "nope"}}, "no boundary"),
    ({"params": {"d": 6, "r": 9, "init": "small"}}, "1 <= r <= d"),
    ({"surprise": 1}, "unknown key"),
])
def test_bad_specs_are_clear_errors(change, match):
    with pytest.raises(SpecError, match=match):
        spec_from_dict({**QUICK, **change})


def test_bad_spec_files(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("family = [")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="expands to"):
        spec_from_dict({**QUICK, "grid": {"init_norm": {"start": 1e-3, "stop": 1.0, "num": 1000},
                                          "max_iter": {"start": 1, "stop": 2000, "step": 1}}})


def test_example_specs_validate():
    for p in sorted(EXAMPLES.glob("*.toml")):
        spec = load_spec(p)
        assert spec.plot is not None and spec.n_tasks > 20, p


# -- the store -----------------------------------------------------------------------------------
def test_serial_sweep_tidy_results(tmp_path):
    spec = spec_from_dict(QUICK)
    store = fresh(tmp_path, spec)
    seen = []
    counts = run_sweep(spec, store, executor="serial", progress=lambda t, o: seen.append(o))
    assert counts["done"] == 8 and counts["ran"] == 8 and counts["failed"] == 0
    assert len(seen) == 8
    df = assert_stored_once(tmp_path / "s", 8)
    assert list(df.columns[:5]) == ["key", "oversampling", "init_norm", "seed", "status"]
    assert {"rel_error", "iterations", "success", "time", "error_message"} <= set(df.columns)
    # success is the spec's criterion applied to the stored metric
    assert (df.success == (df.rel_error <= 1e-3)).all()
    assert df[df.oversampling == 4.0].success.all()  # far above the threshold: recovered
    tr = load(tmp_path / "s", table="trace")
    assert {"key", "oversampling", "seed", "iter", "rel_error"} <= set(tr.columns)
    last = tr.groupby("key").rel_error.last()
    np.testing.assert_allclose(last[df.key].to_numpy(), df.rel_error.to_numpy(), rtol=1e-6)
    # nothing left to run: a second run does nothing
    again = run_quiet(spec, store, executor="serial")
    assert again["ran"] == 0 and again["done"] == 8


def test_local_executor_matches_serial(tmp_path):
    spec = spec_from_dict(QUICK)
    run_quiet(spec, fresh(tmp_path, spec, "a"), executor="serial")
    run_quiet(spec, fresh(tmp_path, spec, "b"), executor="local", workers=2)
    a, b = (load(tmp_path / n).set_index("key").sort_index() for n in "ab")
    for col in ("rel_error", "train_error", "iterations", "stop", "success"):
        assert (a[col] == b[col]).all(), col  # same seeds, same numbers, bit for bit


def test_failed_tasks_are_stored_with_their_message_and_retried(tmp_path, monkeypatch):
    # a task that raises while it runs (here: the sensing runner refuses oversampling 4, a
    # stand-in for any failure inside a solver; configs that cannot run are refused earlier,
    # when the spec is validated — see test_invalid_grid_value_is_refused_before_running)
    from lowranklab.sweep import families

    real = families.run_sensing

    def flaky(p, seed):
        if p.oversampling == 4.0:
            raise ValueError("refused: oversampling 4 (the test's planted failure)")
        return real(p, seed)

    import dataclasses

    monkeypatch.setitem(families.FAMILIES, "sensing",
                        dataclasses.replace(families.FAMILIES["sensing"], run=flaky))
    spec = spec_from_dict({**QUICK, "grid": {"oversampling": [1.0, 4.0]}, "seeds": [0]})
    store = fresh(tmp_path, spec)
    counts = run_quiet(spec, store, executor="serial")
    assert counts["done"] == 1 and counts["failed"] == 1 and counts["failed_now"] == 1
    df = load(tmp_path / "s").set_index("oversampling")
    assert df.loc[4.0, "status"] == "failed" and df.loc[4.0, "error_type"] == "ValueError"
    assert "oversampling 4" in df.loc[4.0, "error_message"] and pd.isna(df.loc[4.0, "success"])
    assert df.loc[1.0, "status"] == "done" and "rel_error" in df.columns
    # failed tasks are not rerun by a plain resume, only with retry_failed
    assert run_quiet(spec, store, executor="serial")["ran"] == 0
    assert store.retry_failed() == 1
    again = run_quiet(spec, store, executor="serial")
    assert again["failed_now"] == 1 and load(tmp_path / "s").set_index(
        "oversampling").loc[4.0, "attempts"] == 2


def test_invalid_grid_value_is_refused_before_running(tmp_path):
    # demo.recovery with r = 40 > d = 8: its config is out of range, so the whole spec is
    # refused when it is validated, before any task runs
    from lowranklab.sweep.spec import SpecError

    with pytest.raises(SpecError, match="r must be <= d"):
        spec_from_dict({"name": "fails", "family": "experiment", "experiment": "demo.recovery",
                        "seeds": [0], "params": {"d": 8, "n1": 12, "n2": 10, "fraction": 0.8,
                                                 "max_iter": 300},
                        "grid": {"r": [1, 40]}})


def test_store_refuses_foreign_corrupt_and_other_files(tmp_path):
    spec = spec_from_dict(QUICK)
    (tmp_path / "dir" / "sweep.sqlite").mkdir(parents=True)
    with pytest.raises(StoreError, match="is not a file"):
        SweepStore(tmp_path / "dir", create=True)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="not a directory"):
        SweepStore(tmp_path / "afile", create=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "sweep.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="junk/sweep.sqlite"):
        SweepStore(tmp_path / "junk", create=True)
    (tmp_path / "foreign").mkdir()
    with sqlite3.connect(tmp_path / "foreign" / "sweep.sqlite") as con:
        con.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(StoreError, match="not a lowranklab sweep store"):
        SweepStore(tmp_path / "foreign", create=True)
    with sqlite3.connect(tmp_path / "foreign" / "sweep.sqlite") as con:  # left untouched
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master")]
    assert names == ["people"]
    with pytest.raises(StoreError, match="holds no sweep store"):
        SweepStore(tmp_path / "nothing")
    store = fresh(tmp_path, spec)
    other = spec_from_dict({**QUICK, "seeds": [0, 1, 2]})
    with pytest.raises(StoreError, match="different sweep.*seeds"):
        store.attach(other)


def test_truncated_store_is_a_clear_error(tmp_path):
    spec = spec_from_dict(QUICK)
    run_quiet(spec, fresh(tmp_path, spec), executor="serial")
    p = tmp_path / "s" / "sweep.sqlite"
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(StoreError, match="sweep.sqlite"):
        load(tmp_path / "s")


def test_claims_are_disjoint_leases_and_dead_owners_release(tmp_path):
    spec = spec_from_dict(QUICK)
    store = fresh(tmp_path, spec)
    a, b = "localhost-a:1:x", f"{socket.gethostname()}:{os.getpid()}:me"
    ka = store.claim(a, 3, lease=3600)
    kb = store.claim(b, 10, lease=3600)
    assert len(ka) == 3 and len(kb) == 5 and not set(ka) & set(kb)
    assert store.claim(b, 10, lease=3600) == []  # everything is taken
    assert store.release_dead() == 0  # a: another host, lease valid; b: this process, alive
    dead = f"{socket.gethostname()}:{2**22 + 12345}:gone"  # no such pid
    with sqlite3.connect(store.path) as con:
        con.execute("UPDATE tasks SET owner = ? WHERE key = ?", (dead, ka[0]))
        con.execute("UPDATE tasks SET lease_until = 0 WHERE key = ?", (ka[1],))
    assert store.release_dead() == 1
    again = store.claim(b, 10, lease=3600)
    assert sorted(again) == sorted(ka[:2])  # the dead owner's and the expired lease
    # only the owner of a claim can finish it
    assert not store.finish(a, {"key": kb[0], "status": "done", "metrics": {}})
    assert store.finish(b, {"key": kb[0], "status": "done", "metrics": {}, "success": True})
    assert not store.finish(b, {"key": kb[0], "status": "failed"})  # done is final


def test_batched_hook_receives_same_shape_groups(tmp_path):
    spec = spec_from_dict(QUICK)
    groups = []

    def batched(jobs):
        groups.append([j.task for j in jobs])
        return [ex.execute_task(j) for j in jobs]

    builtin = ex.BATCHED.get("sensing")
    register_batched("sensing", batched)
    try:
        counts = run_quiet(spec, fresh(tmp_path, spec), executor="serial", batch=4)
    finally:
        ex.BATCHED["sensing"] = builtin
    assert counts["done"] == 8
    assert groups and all(len({t.shape_key() for t in g}) == 1 for g in groups)
    assert any(len(g) > 1 for g in groups)
    with pytest.raises(ValueError, match="unknown family"):
        register_batched("nope", batched)


def test_batched_sensing_sweep_stores_the_task_by_task_values(tmp_path):
    """--batch N: same-shape sensing tasks run as one batched GD (sweep/batched.py) and store
    the metrics a task-by-task sweep stores (to round-off), success flags and stop codes alike."""
    from lowranklab.sweep.batched import run_sensing_group

    assert ex.BATCHED["sensing"] is run_sensing_group
    spec = spec_from_dict({**QUICK, "seeds": [0, 1, 2, 3]})
    a = run_quiet(spec, fresh(tmp_path, spec, "serial"), executor="serial")
    calls = []
    real = ex.BATCHED["sensing"]
    ex.BATCHED["sensing"] = lambda jobs: calls.append(len(jobs)) or real(jobs)
    try:
        b = run_quiet(spec, fresh(tmp_path, spec, "batched"), executor="serial", batch=16)
    finally:
        ex.BATCHED["sensing"] = real
    assert a["done"] == b["done"] == 16 and max(calls) > 1  # groups really ran batched
    da = load(tmp_path / "serial").set_index("key").sort_index()
    db = load(tmp_path / "batched").set_index("key").sort_index()
    assert (da.success == db.success).all() and (da.stop == db.stop).all()
    assert (da.iterations == db.iterations).all()
    np.testing.assert_allclose(db.rel_error, da.rel_error, rtol=1e-6, atol=1e-12)


# -- processes: kills, Ctrl-C, concurrent sweeps -------------------------------------------------
def test_sigkill_then_resume_stores_every_task_once(tmp_path):
    spec_path = write_spec(tmp_path, SLOW)
    out = tmp_path / "out"
    p = start_cli("sweep", str(spec_path), "--out", str(out), "--executor", "local",
                  "--workers", "2", start_new_session=True)
    try:
        wait_for(lambda: done_count(out) >= 1 or p.poll() is not None, what="a task done")
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    c = SweepStore(out).counts()
    assert c["done"] < 9 and c["running"] > 0  # killed mid-sweep, its claims left behind
    r = start_cli("sweep", str(spec_path), "--out", str(out), "--executor", "local",
                  "--workers", "2", "--resume")
    so, se = r.communicate(timeout=600)
    assert r.returncode == 0, se
    assert_stored_once(out, 9)


@pytest.mark.parametrize("case", ["running", "broken"])
def test_stop_pool_ends_the_manager_thread(case):
    # a manager thread left running races the interpreter's exit hook for its wakeup pipe
    # (EBADF traceback after Ctrl-C): _stop_pool must return with it ended, whether it stops
    # a task in flight (Ctrl-C) or a pool whose worker died (`_local` starts a new pool)
    import concurrent.futures as cf
    import multiprocessing as mp

    pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"),
                                  initializer=ex._pool_initializer)
    if case == "running":
        fut = pool.submit(time.sleep, 60)
        wait_for(lambda: fut.running(), what="the task running", every=0.01)
    else:
        pool.submit(abs, 1).result()  # the manager thread exists
    thread = pool._executor_manager_thread
    if case == "running":
        assert thread.is_alive()
    else:  # a broken pool's thread is then on its way out, not necessarily gone
        with pytest.raises(cf.process.BrokenProcessPool):
            pool.submit(os._exit, 1).result(timeout=60)
    t0 = time.perf_counter()
    ex._stop_pool(pool)
    assert not thread.is_alive()
    assert time.perf_counter() - t0 < ex.STOP_JOIN_S


@pytest.mark.parametrize("executor", ["serial", "local"])
def test_sigint_then_resume_never_counts_an_interrupted_task(tmp_path, executor):
    spec_path = write_spec(tmp_path, SLOW)
    out = tmp_path / "out"
    p = start_cli("sweep", str(spec_path), "--out", str(out), "--executor", executor,
                  "--workers", "2")
    # a task done and the next one claimed: the signal lands inside a task (a fixed sleep
    # after the first task sometimes landed between two tasks, with nothing to interrupt)
    wait_for(lambda: (c := counts(out))["done"] >= 1 and c["running"] >= 1,
             what="1 task done and 1 running", every=0.01)
    p.send_signal(signal.SIGINT)
    so, se = p.communicate(timeout=120)
    assert p.returncode == 130, se
    assert "Traceback" not in se
    df = load(out)
    assert not (df.status == "running").any()
    assert (df.status == "interrupted").sum() >= 1  # the task in flight
    done = df[df.status == "done"]
    assert not (done["stop"] == "interrupted").any() and done.rel_error.notna().all()
    r = start_cli("sweep", str(spec_path), "--out", str(out), "--executor", executor,
                  "--resume")
    so, se = r.communicate(timeout=600)
    assert r.returncode == 0, se
    assert_stored_once(out, 9)


def test_two_concurrent_sweeps_divide_the_work(tmp_path):
    spec_path = write_spec(tmp_path, SLOW)
    out = tmp_path / "out"
    args = ("sweep", str(spec_path), "--out", str(out), "--executor", "serial", "--resume")
    a = start_cli(*args)
    b = start_cli(*args)
    (ao, ae), (bo, be) = a.communicate(timeout=600), b.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, ae + be
    df = assert_stored_once(out, 9)
    assert (df.attempts == 1).all()  # each task ran once, in one of the two
    ran = [int(o.split(" run now")[0].split()[-1]) for o in (ao, bo)]
    assert sum(ran) == 9 and min(ran) >= 1, (ao, bo)


# -- Dask ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_scheduler_and_two_workers_match_serial_with_one_killed(tmp_path):
    pytest.importorskip("distributed")
    spec = spec_from_dict(QUICK)
    run_quiet(spec, fresh(tmp_path, spec, "serial"), executor="serial")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = cli_env()
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        wait_for(lambda: _reachable(port), timeout=60, what="the scheduler")
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1",
                 "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(addr, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        killed = []

        def kill_one_worker(task, outcome):  # one worker dies mid-sweep
            if not killed:
                procs[1].kill()
                killed.append(task.key)

        counts = run_sweep(spec, fresh(tmp_path, spec, "dask"), executor="dask",
                           scheduler=addr, progress=kill_one_worker)
    finally:
        for p in procs[1:]:
            p.kill()
        procs[0].terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    assert killed and procs[1].returncode == -signal.SIGKILL
    assert counts["done"] == 8 and counts["ran"] == 8
    a, b = (load(tmp_path / n).set_index("key").sort_index() for n in ("serial", "dask"))
    for col in ("rel_error", "train_error", "iterations", "stop", "success"):
        assert (a[col] == b[col]).all(), col
    assert_stored_once(tmp_path / "dask", 8)


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- the CLI -------------------------------------------------------------------------------------
def one_error_line(res) -> str:
    text = res.output  # stdout and stderr together
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert res.exit_code == 2, text
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def test_cli_runs_a_spec_status_export_and_plot(tmp_path):
    spec_path = write_spec(tmp_path, {**QUICK, "plot": {"x": "oversampling", "y": "init_norm",
                                                        "boundary": "dof"}})
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", str(spec_path), "--out", str(out), "--executor",
                              "serial", "--export", str(tmp_path / "x.parquet")])
    assert res.exit_code == 0, res.output
    assert "8 run now" in res.output and "phase_oversampling_init_norm.png" in res.output
    png = out / "phase_oversampling_init_norm.png"
    assert png.stat().st_size > 10_000
    x = pd.read_parquet(tmp_path / "x.parquet")
    assert len(x) == 8 and x.key.is_unique and "success" in x
    res = runner.invoke(app, ["sweep-status", str(out)])
    assert res.exit_code == 0 and "8 done, 0 failed" in res.output
    res = runner.invoke(app, ["sweep-plot", str(out), "--x", "init_norm", "--y",
                              "oversampling", "--out", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "p.png").stat().st_size > 10_000
    # an existing sweep needs --resume
    res = runner.invoke(app, ["sweep", str(spec_path), "--out", str(out)])
    assert "pass --resume" in one_error_line(res)
    res = runner.invoke(app, ["sweep", str(spec_path), "--out", str(out), "--resume",
                              "--executor", "serial"])
    assert res.exit_code == 0 and "0 run now" in res.output
    res = runner.invoke(app, ["sweep-plot", str(out), "--x", "seed", "--y", "init_norm"])
    assert "grid axis" in one_error_line(res)


def test_cli_sweeps_an_experiment_by_name(tmp_path):
    res = CliRunner().invoke(app, [
        "sweep", "demo.recovery", "--grid", "r=1,2", "--seeds", "0:1", "--executor", "serial",
        "--set", "d=8", "--set", "n1=12", "--set", "n2=10", "--set", "fraction=0.8",
        "--set", "max_iter=300", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    df = load(tmp_path / "o")
    assert sorted(df.r) == [1, 2] and df.holds_all.notna().all()


@pytest.mark.parametrize("case", ["truncated", "not-sqlite", "dir-store", "out-is-file",
                                  "scheduler", "scheduler-syntax", "grid-abc", "seeds-float",
                                  "seeds-huge", "export-nodir", "export-suffix", "no-spec",
                                  "workers", "batch", "executor", "unknown-experiment",
                                  "grid-unknown"])
def test_cli_bad_inputs_one_error_line_exit_2(tmp_path, case):
    spec_path = write_spec(tmp_path, QUICK)
    out = tmp_path / "out"
    args = ["sweep", str(spec_path), "--out", str(out), "--executor", "serial"]
    if case in ("truncated", "not-sqlite"):
        out.mkdir()
        if case == "truncated":
            run_quiet(spec_from_dict(QUICK, source=str(spec_path)),
                      fresh(tmp_path, load_spec(spec_path), "out"), executor="serial")
            data = (out / "sweep.sqlite").read_bytes()
            (out / "sweep.sqlite").write_bytes(data[: len(data) // 3])
            args.append("--resume")
        else:
            (out / "sweep.sqlite").write_bytes(os.urandom(4096))
    elif case == "dir-store":
        (out / "sweep.sqlite").mkdir(parents=True)
    elif case == "out-is-file":
        out.write_text("x")
    elif case == "scheduler":
        args += ["--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{_free_port()}"]
        pytest.importorskip("distributed")
    elif case == "scheduler-syntax":
        args += ["--executor", "dask", "--scheduler", "127.0.0.1"]
        pytest.importorskip("distributed")
    elif case == "grid-abc":
        args += ["--grid", "r=abc"]
    elif case == "seeds-float":
        args += ["--seeds", "1.5"]
    elif case == "seeds-huge":
        args += ["--seeds", "0:1000000000000"]
    elif case == "export-nodir":
        args += ["--export", str(tmp_path / "nodir" / "x.parquet")]
    elif case == "export-suffix":
        args += ["--export", str(tmp_path / "x.csv")]
    elif case == "no-spec":
        args[1] = str(tmp_path / "missing.toml")
    elif case == "workers":
        args += ["--workers", "0"]
    elif case == "batch":
        args += ["--batch", "0"]
    elif case == "executor":
        args += ["--executor", "threads"]
    elif case == "unknown-experiment":
        args[1] = "nope.fig9"
    elif case == "grid-unknown":
        args += ["--grid", "bogus=1,2"]
    t0 = time.monotonic()
    res = CliRunner().invoke(app, args)
    one_error_line(res)
    assert time.monotonic() - t0 < 20  # checked before anything runs
    if case in ("export-nodir", "grid-abc", "seeds-float", "seeds-huge", "scheduler"):
        assert not (out / "sweep.sqlite").exists()  # nothing ran
    status = CliRunner().invoke(app, ["sweep-status", str(out)])
    if case in ("truncated", "not-sqlite", "dir-store", "out-is-file"):
        one_error_line(status)


# -- plots and theory ----------------------------------------------------------------------------
def test_success_grid_is_the_fraction_over_seeds():
    df = pd.DataFrame({"a": [1, 1, 1, 2, 2, 2], "b": [0, 0, 0, 0, 0, 0],
                       "status": ["done"] * 5 + ["failed"],
                       "success": [True, False, True, True, True, None]})
    P, N = success_grid(df, "a", "b", [1, 2, 3], [0])
    np.testing.assert_allclose(P[0, :2], [2 / 3, 1.0])
    assert np.isnan(P[0, 2]) and N.tolist() == [[3, 2, 0]]


def test_theory_boundaries():
    sens = FAMILIES["sensing"].boundaries["dof"]
    assert sens["m"]({"d": 10, "r": 2}) == 19  # 10·2 − 1
    assert sens["oversampling"]({"d": 10, "r": 2}) == pytest.approx(19 / 20)
    comp = FAMILIES["completion"].boundaries["dof"]
    f = comp["fraction"]({"n1": 40, "n2": 30, "r": 3})
    assert f == pytest.approx(3 * 67 / 1200)
    assert comp["r"]({"n1": 40, "n2": 30, "fraction": f}) == pytest.approx(3)
    pat = FAMILIES["min_norm"].boundaries["pataki"]
    assert pat["m"]({"p": 4}) == 10 and pat["p"]({"m": 10}) == pytest.approx(4)


def test_min_norm_and_completion_families_run():
    from lowranklab.sweep.families import (
        CompletionParams,
        MinNormParams,
        run_completion,
        run_min_norm,
    )

    m, tr = run_min_norm(MinNormParams(d=5, m=4, p=4, max_iter=2000), seed=0)
    assert m["certified"] and m["feasibility"] < 1e-5 and len(tr) > 0
    for solver in ("gd", "rgd"):
        m, tr = run_completion(CompletionParams(n1=30, n2=25, r=2, fraction=0.6,
                                                solver=solver, max_iter=400), seed=1)
        assert m["rel_error"] < 1e-6 and m["m"] == round(0.6 * 750), solver


# -- Ctrl-C inside a solver (`run` and the experiment family) --------------------------------------
def test_run_does_not_store_a_run_a_solver_cut_short(tmp_path):
    from lowranklab.experiments import base, load_all
    from lowranklab.experiments.runner import run_experiment

    load_all()

    def swallowing_run(cfg, ctx):  # like a solver: catches Ctrl-C and returns normally
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        return {"t": pd.DataFrame({"x": [1.0]})}

    exp = base.Experiment(name="demo.swallow", paper="demo", figure="swallow", summary="",
                          config=base.ExperimentConfig, run=swallowing_run,
                          claims=lambda t, c: [base.Claim("c", "", 1, 1, True)],
                          plot=lambda t, c: {})
    base.register(exp)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_experiment("demo.swallow", out=tmp_path, verbose=False)
        assert not (tmp_path / "demo.swallow" / "summary.json").exists()
        spec = spec_from_dict({"family": "experiment", "experiment": "demo.swallow",
                               "seeds": [0]})
        store = fresh(tmp_path, spec)
        with pytest.raises(KeyboardInterrupt):
            run_quiet(spec, store, executor="serial")
        assert store.counts()["interrupted"] == 1 and store.counts()["done"] == 0
    finally:
        base.REGISTRY.pop("demo.swallow", None)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

"""The sweep store: one SQLite file, DIR/sweep.sqlite, that never lies.

Every task of the spec has a row from the start; its status moves

    pending ──claim──▶ running ──▶ done | failed | interrupted
       ▲                  │
       └── lease expired, or its owner process is gone (SIGKILL) ──┘

* `done` is written only with the task's metrics, in the same transaction, and only by the
  process holding the task's claim; a row is never written twice (the key is the primary key).
* `failed` keeps the error type and message; `--retry-failed` puts failed tasks back to pending.
* `interrupted` (Ctrl-C) is rerun by the next `--resume`.
* A claim is a lease (owner, lease_until), renewed by a heartbeat while the task runs, taken in
  a `BEGIN IMMEDIATE` transaction: two sweeps on one store divide the tasks between them. A
  claim whose owner is a dead process on this host is free at once; one of another host when
  its lease expires.

The `meta` table names the format (`lowranklab-sweep`), its version and the spec, so a foreign,
corrupted or different sweep's file is a clear `StoreError`, never a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from lowranklab.sweep.spec import SweepSpec

FORMAT = "lowranklab-sweep"
VERSION = 1
STORE_NAME = "sweep.sqlite"
STATUSES = ("pending", "running", "done", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    idx INTEGER NOT NULL,
    point TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_type TEXT,
    error_message TEXT,
    metrics TEXT,
    success INTEGER,
    elapsed REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status, idx);
CREATE TABLE IF NOT EXISTS traces (key TEXT PRIMARY KEY, data TEXT NOT NULL);
"""


class StoreError(ValueError):
    """The store path is not a usable sweep store (foreign, corrupted, a directory, …)."""


def new_owner() -> str:
    """host:pid:random — the pid lets a sweep on the same host see that a claim's owner died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_alive(owner: str) -> bool:
    host, pid, _ = (owner.split(":") + ["", "", ""])[:3]
    if host != socket.gethostname():
        return True  # cannot tell: wait for the lease
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class SweepStore:
    """Open (create=True: create if missing) the store of sweep directory `directory`."""

    def __init__(self, directory: str | Path, *, create: bool = False) -> None:
        d = Path(directory)
        if d.exists() and not d.is_dir():
            raise StoreError(f"sweep directory {d} exists and is not a directory")
        self.path = d / STORE_NAME
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"sweep store {self.path} exists and is not a file")
        if not self.path.exists():
            if not create:
                raise StoreError(f"{d} holds no sweep store ({STORE_NAME}); run `lowranklab "
                                 f"sweep SPEC.toml --out {d}` first")
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create sweep directory {d}: {e.strerror}") from None
        self.directory = d
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        try:
            with self._tx(immediate=fresh) as con:
                if fresh:  # never add tables to somebody else's database
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT,))
                    con.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)",
                                (str(VERSION),))
                self._check_format(con)
        except OSError as e:
            raise StoreError(f"cannot open {self.path}: {e}") from None

    # -- connections ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.execute("PRAGMA busy_timeout = 60000")
        return con

    @contextmanager
    def _tx(self, immediate: bool = False):
        """One transaction; any SQLite failure becomes a StoreError naming the file."""
        try:
            con = self._connect()
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the sweep store {self.path}: {e}") from None
        try:
            con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield con
            con.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            _rollback(con)
            raise StoreError(f"{self.path} is not a readable lowranklab sweep store "
                             f"({e})") from None
        except BaseException:
            _rollback(con)
            raise
        finally:
            con.close()

    def _check_format(self, con: sqlite3.Connection) -> None:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"meta", "tasks", "traces"} <= names:
            raise StoreError(f"{self.path} is an SQLite file but not a lowranklab sweep store "
                             f"(tables: {sorted(names) or 'none'})")
        meta = dict(con.execute("SELECT k, v FROM meta"))
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.path} is not a lowranklab sweep store "
                             f"(format {meta.get('format')!r})")
        if meta.get("version") != str(VERSION):
            raise StoreError(f"{self.path} has store version {meta.get('version')}; this "
                             f"lowranklab reads version {VERSION}")

    # -- the spec ------------------------------------------------------------------------------
    def spec_json(self) -> dict[str, Any] | None:
        with self._tx() as con:
            row = con.execute("SELECT v FROM meta WHERE k = 'spec'").fetchone()
        return json.loads(row[0]) if row else None

    def attach(self, spec: SweepSpec) -> bool:
        """Register `spec` and its tasks (first sweep on this store) or check that the store
        holds this very sweep. Returns True when the store was new."""
        tasks = spec.tasks()
        with self._tx(immediate=True) as con:
            row = con.execute("SELECT v FROM meta WHERE k = 'identity'").fetchone()
            if row is not None:
                if row[0] != spec.identity():
                    old = json.loads(con.execute(
                        "SELECT v FROM meta WHERE k = 'spec'").fetchone()[0])
                    raise StoreError(
                        f"{self.directory} holds a different sweep ({old.get('name')!r}: "
                        f"{_diff(old, json.loads(spec.to_json()))}); use another --out")
                return False
            con.execute("INSERT INTO meta VALUES ('identity', ?)", (spec.identity(),))
            con.execute("INSERT INTO meta VALUES ('spec', ?)", (spec.to_json(),))
            con.execute("INSERT INTO meta VALUES ('created', ?)", (str(time.time()),))
            con.executemany(
                "INSERT INTO tasks (key, idx, point, params, seed) VALUES (?, ?, ?, ?, ?)",
                ((t.key, t.index, json.dumps(t.point, default=str),
                  json.dumps(t.params, default=str), t.seed) for t in tasks))
            return True

    # -- claims --------------------------------------------------------------------------------
    def release_dead(self) -> int:
        """Running tasks whose owner process on this host is gone go back to pending."""
        with self._tx(immediate=True) as con:
            rows = con.execute("SELECT key, owner FROM tasks WHERE status = 'running'").fetchall()
            dead = [k for k, owner in rows if owner and not _owner_alive(owner)]
            con.executemany("UPDATE tasks SET status = 'pending', owner = NULL, lease_until = "
                            "NULL WHERE key = ? AND status = 'running'", ((k,) for k in dead))
        return len(dead)

    def retry_failed(self) -> int:
        with self._tx(immediate=True) as con:
            return con.execute("UPDATE tasks SET status = 'pending' WHERE status = 'failed'"
                               ).rowcount

    def claim(self, owner: str, n: int, *, lease: float) -> list[str]:
        """Take up to n runnable tasks (pending, interrupted, or running with an expired lease
        or a dead owner) for `owner`; returns their keys in grid order."""
        now = time.time()
        with self._tx(immediate=True) as con:
            keys = [r[0] for r in con.execute(
                "SELECT key FROM tasks WHERE status IN ('pending', 'interrupted') OR "
                "(status = 'running' AND lease_until < ?) ORDER BY idx LIMIT ?", (now, n))]
            con.executemany("UPDATE tasks SET status = 'running', owner = ?, lease_until = ?, "
                            "attempts = attempts + 1 WHERE key = ?",
                            ((owner, now + lease, k) for k in keys))
        return keys

    def heartbeat(self, owner: str, *, lease: float) -> None:
        with self._tx(immediate=True) as con:
            con.execute("UPDATE tasks SET lease_until = ? WHERE owner = ? AND status = "
                        "'running'", (time.time() + lease, owner))

    def release(self, owner: str, keys: Iterable[str], status: str = "pending") -> None:
        """Give claimed, unfinished tasks back (as pending, or as interrupted)."""
        if status not in ("pending", "interrupted"):
            raise ValueError(f"status must be pending or interrupted, got {status!r}")
        with self._tx(immediate=True) as con:
            con.executemany("UPDATE tasks SET status = ?, owner = NULL, lease_until = NULL "
                            "WHERE key = ? AND owner = ? AND status = 'running'",
                            ((status, k, owner) for k in keys))

    def release_owner(self, owner: str, status: str = "interrupted") -> int:
        """Give back every task `owner` still holds (a sweep stopped by Ctrl-C)."""
        if status not in ("pending", "interrupted"):
            raise ValueError(f"status must be pending or interrupted, got {status!r}")
        with self._tx(immediate=True) as con:
            return con.execute("UPDATE tasks SET status = ?, owner = NULL, lease_until = NULL "
                               "WHERE owner = ? AND status = 'running'", (status, owner)
                               ).rowcount

    def finish(self, owner: str, outcome: dict[str, Any]) -> bool:
        """Write a task's outcome: done (metrics, success, trace) or failed (error). Only the
        claim's owner writes, and a done row is never overwritten. Returns whether written."""
        status = outcome["status"]
        if status not in ("done", "failed", "interrupted"):
            raise ValueError(f"outcome status must be done, failed or interrupted: {status!r}")
        with self._tx(immediate=True) as con:
            cur = con.execute(
                "UPDATE tasks SET status = ?, owner = NULL, lease_until = NULL, error_type = ?, "
                "error_message = ?, metrics = ?, success = ?, elapsed = ?, finished = ? "
                "WHERE key = ? AND owner = ? AND status = 'running'",
                (status, outcome.get("error_type"), outcome.get("error_message"),
                 json.dumps(outcome.get("metrics"), default=str)
                 if outcome.get("metrics") is not None else None,
                 None if outcome.get("success") is None else int(bool(outcome["success"])),
                 outcome.get("elapsed"), time.time(), outcome["key"], owner))
            written = cur.rowcount == 1
            if written and status == "done" and outcome.get("trace") is not None:
                con.execute("INSERT OR REPLACE INTO traces VALUES (?, ?)",
                            (outcome["key"], json.dumps(outcome["trace"], default=str)))
        return written

    # -- reading -------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._tx() as con:
            got = dict(con.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status"))
        out = {s: int(got.get(s, 0)) for s in STATUSES}
        out["total"] = sum(out[s] for s in STATUSES)
        return out

    def failures(self, limit: int = 20) -> list[tuple[str, str, str, str]]:
        with self._tx() as con:
            return [(k, json.loads(p), t, m) for k, p, t, m in con.execute(
                "SELECT key, point, error_type, error_message FROM tasks WHERE status = "
                "'failed' ORDER BY idx LIMIT ?", (limit,))]

    def point_params(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(grid point, validated parameters) of every distinct grid point."""
        with self._tx() as con:
            return [(json.loads(pt), json.loads(pa)) for pt, pa in con.execute(
                "SELECT point, params FROM tasks GROUP BY point ORDER BY MIN(idx)")]

    def tasks_frame(self) -> pd.DataFrame:
        """One row per task: key, the grid coordinates, seed, status, error, metrics, success,
        time (seconds), attempts."""
        spec = self.spec_json() or {}
        metric_names = spec.get("metrics", [])
        rows = []
        with self._tx() as con:
            for (key, point, seed, status, etype, emsg, metrics, success, elapsed, attempts
                 ) in con.execute(
                    "SELECT key, point, seed, status, error_type, error_message, metrics, "
                    "success, elapsed, attempts FROM tasks ORDER BY idx"):
                row: dict[str, Any] = {"key": key, **json.loads(point), "seed": seed,
                                       "status": status}
                m = json.loads(metrics) if metrics else {}
                for name in metric_names or m:
                    row[name] = m.get(name)
                row["success"] = None if success is None else bool(success)
                row["time"] = elapsed
                row["attempts"] = attempts
                row["error_type"] = etype
                row["error_message"] = emsg
                rows.append(row)
        df = pd.DataFrame(rows)
        if "success" in df:
            df["success"] = df["success"].astype("boolean")
        return df

    def trace_frame(self) -> pd.DataFrame:
        """The per-iteration traces of done tasks, with the task's key, grid point and seed."""
        frames = []
        with self._tx() as con:
            for key, point, seed, data in con.execute(
                    "SELECT t.key, t.point, t.seed, tr.data FROM traces tr JOIN tasks t "
                    "ON t.key = tr.key WHERE t.status = 'done' ORDER BY t.idx"):
                df = pd.DataFrame.from_records(json.loads(data))
                head = {"key": key, **json.loads(point), "seed": seed}
                for i, (k, v) in enumerate(head.items()):
                    df.insert(i, k, v)
                frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _rollback(con: sqlite3.Connection) -> None:
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = [k for k in ("family", "experiment", "quick", "params", "grid", "seeds", "metrics",
                        "success") if old.get(k) != new.get(k)]
    return "differs in " + ", ".join(keys) if keys else "same fields, other identity"


def load(directory: str | Path, table: str = "tasks") -> pd.DataFrame:
    """The results of the sweep in DIR as a pandas DataFrame.

    table="tasks": one row per task (key, grid parameters, seed, status, metrics, success,
    time, attempts, error_type, error_message); table="trace": the per-iteration traces of the
    done tasks, one row per recorded iteration, with key, grid parameters and seed."""
    if table not in ("tasks", "trace"):
        raise ValueError(f"table must be 'tasks' or 'trace', got {table!r}")
    store = SweepStore(directory)
    return store.tasks_frame() if table == "tasks" else store.trace_frame()

"""The results store: an embedded SQLite file, one row per finished task.

Each task is committed as soon as it finishes, in its own transaction, so a killed sweep loses
no finished task, and a rerun skips every key already stored (resumption). Result tables are
kept as JSON records; `to_frame` returns one tidy DataFrame with the config columns added.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd

from lowranklab.sweep.grid import Task

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    quick INTEGER NOT NULL,
    config TEXT NOT NULL,
    tables TEXT NOT NULL,
    claims TEXT NOT NULL,
    elapsed REAL NOT NULL,
    finished REAL NOT NULL
)
"""


class ResultStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60)
        con.execute("PRAGMA journal_mode=WAL")
        return con

    def done_keys(self) -> set[str]:
        with self._connect() as con:
            return {row[0] for row in con.execute("SELECT key FROM tasks")}

    def put(self, task: Task, tables: dict[str, pd.DataFrame], claims: list[dict[str, Any]],
            elapsed: float) -> None:
        payload = {k: json.loads(df.to_json(orient="records")) for k, df in tables.items()}
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (task.key, task.name, int(task.quick), json.dumps(task.config, default=str),
                 json.dumps(payload), json.dumps(claims, default=str), elapsed, time.time()))

    def __len__(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])

    def to_frame(self, table: str | None = None) -> pd.DataFrame:
        """All stored rows of result table `table` (default: the first one of each task), with
        the task's config columns prefixed `cfg_` and the experiment name."""
        frames = []
        with self._connect() as con:
            rows = con.execute("SELECT key, name, config, tables FROM tasks ORDER BY finished")
            for key, name, config, tables in rows:
                tabs = json.loads(tables)
                if not tabs:
                    continue
                recs = tabs[table] if table is not None else next(iter(tabs.values()))
                df = pd.DataFrame.from_records(recs)
                for k, v in json.loads(config).items():
                    df[f"cfg_{k}"] = v
                df["experiment"] = name
                df["task"] = key
                frames.append(df)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def claims_frame(self) -> pd.DataFrame:
        rows = []
        with self._connect() as con:
            for key, name, config, claims in con.execute(
                    "SELECT key, name, config, claims FROM tasks ORDER BY finished"):
                for c in json.loads(claims):
                    rows.append({"task": key, "experiment": name, **json.loads(config), **c})
        return pd.DataFrame(rows)

"""`lowranklab complete`: triplet CSV/Parquet and dense CSV in, completed matrix out; bad
inputs give one `error:` line and exit 2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lowranklab.cli import app

runner = CliRunner()


def _matrix(seed=0):
    g = np.random.default_rng(seed)
    M = g.standard_normal((30, 2)) @ g.standard_normal((2, 20))
    keep = g.random(M.shape) < 0.6
    return M, keep


def test_dense_csv_with_blanks_is_completed(tmp_path):
    M, keep = _matrix()
    lines = [",".join(f"{v:.12g}" if k else "" for v, k in zip(row, krow, strict=True))
             for row, krow in zip(M, keep, strict=True)]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["complete", str(tmp_path / "in.csv"), "--rank", "auto",
                              "--holdout", "0.1", "--out", str(tmp_path / "out.csv")])
    assert res.exit_code == 0, res.output
    assert "held-out RMSE" in res.output and "rank 2" in res.output
    F = np.loadtxt(tmp_path / "out.csv", delimiter=",")
    assert np.abs(F - M).max() < 1e-6


def test_triplets_csv_and_parquet_with_labels(tmp_path):
    M, keep = _matrix(1)
    i, j = np.nonzero(keep)
    df = pd.DataFrame({"row": [f"r{k}" for k in i], "col": [f"c{k}" for k in j],
                       "value": M[i, j]})
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    res = runner.invoke(app, ["complete", str(tmp_path / "t.csv"), "--rank", "2",
                              "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 0, res.output
    out = pd.read_csv(tmp_path / "o.csv", index_col=0)
    assert abs(out.loc["r3", "c4"] - M[3, 4]) < 1e-6
    res = runner.invoke(app, ["complete", str(tmp_path / "t.parquet"), "--rank", "2",
                              "--factors", "--out", str(tmp_path / "f.npz")])
    assert res.exit_code == 0, res.output
    with np.load(tmp_path / "f.npz", allow_pickle=False) as z:
        U, V = z["U"], z["V"]
        rows, cols = list(z["row_labels"]), list(z["col_labels"])
    assert abs(U[rows.index("r5")] @ V[cols.index("c7")] - M[5, 7]) < 1e-6


@pytest.mark.parametrize("content,args,match", [
    (None, [], "does not exist"),
    ("1,2,x\n3,4,5\n", [], r"in.csv:1: cell 'x' is not a number"),
    ("1,2,3\n3,4\n", [], r"in.csv:2: 2 cells"),
    ("row,col,value\na,b,1\na,b,2\n", [], "appear more than once"),
    ("row,col,value\na,b,1\nc,d,oops\n", [], r"in.csv:3: value 'oops'"),
    ("1,2\n3,4\n", ["--rank", "zero"], "--rank must be"),
    ("1,2\n3,4\n", ["--holdout", "1.5"], "--holdout"),
    ("", [], "empty"),
    (",\n,\n", [], "no observed entry"),
])
def test_bad_inputs_one_error_line_exit_2(tmp_path, content, args, match):
    src = tmp_path / "in.csv"
    if content is not None:
        src.write_text(content)
    res = runner.invoke(app, ["complete", str(src), "--out", str(tmp_path / "o.csv"), *args])
    assert res.exit_code == 2, res.output
    err = res.stderr.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in res.output
    import re

    assert re.search(match, errors[0]), errors[0]


def test_bad_output_suffix(tmp_path):
    (tmp_path / "in.csv").write_text("1,2\n3,4\n")
    res = runner.invoke(app, ["complete", str(tmp_path / "in.csv"), "--out",
                              str(tmp_path / "o.txt")])
    assert res.exit_code == 2 and "error: --out must be" in res.stderr

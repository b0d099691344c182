"""The report and `reproduce`: runs stored by configuration, reuse / --force, parallel workers,
formatting of claim values, and the rendered report opened in headless Chromium (every image
loaded, the expected claim rows, a screenshot saved)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lowranklab.experiments import get
from lowranklab.experiments.base import Claim, tolerance_standard
from lowranklab.experiments.runner import run_experiment, stored_runs
from lowranklab.report.html import build_context, fmt_value, write_report
from lowranklab.report.reproduce import reproduce

# fast experiments (about a second each at these sizes) covering the three claim kinds
TINY = {
    "ez2021.fig4": {"grid": 12},  # consistency checks only
    "glrl2021.fig7": {"noise_seeds": 1, "n_points": 80},  # reproduces + consistency
    "hou2021.fig1": {"grid": 21, "angles": 61},
}


def test_fmt_value_reads_well():
    assert fmt_value(0.123456789) == "0.1235"
    assert fmt_value(1.0) == "1"
    assert fmt_value(3.0e-17) == "3e-17"
    assert fmt_value(1.23456e-9) == "1.235e-9"
    assert fmt_value(12345678.0) == "1.235e7"
    assert fmt_value({"fixed": 5.0, "sigma": 2.0 / 3}) == "fixed = 5; sigma = 0.6667"
    assert fmt_value([1e-3, 0.25]) == "[0.001, 0.25]"
    assert fmt_value(True) == "yes" and fmt_value(None) == "—"
    assert fmt_value(float("inf")) == "inf"


def test_claim_kind_is_checked():
    with pytest.raises(ValueError, match="kind"):
        Claim("x", "s", 1, 1, True, kind="identity")


def test_tolerance_standard_names_loosened_fields():
    exp = get("eftekhari2021.fig2")
    assert tolerance_standard(exp.make_config(quick=False), "recovery_tol").startswith(
        "paper tolerance")
    quick = tolerance_standard(exp.make_config(quick=True), "recovery_tol")
    assert quick.startswith("loosened") and "0.1" in quick and "0.001" in quick
    with pytest.raises(ValueError, match="no field"):
        tolerance_standard(exp.make_config(quick=True), "nope")


def _tiny_runs(out: Path) -> None:
    for name, over in TINY.items():
        run_experiment(name, quick=True, overrides=over, out=out, verbose=False)


def test_runs_are_stored_by_configuration_and_reused(tmp_path):
    name = "ez2021.fig4"
    a = run_experiment(name, quick=True, out=tmp_path, verbose=False)
    assert a["key"] == "quick" and not a["reused"]
    b = run_experiment(name, quick=True, overrides={"grid": 12}, out=tmp_path, verbose=False)
    assert b["key"].startswith("quick-") and b["key"] != a["key"]
    # the --set run did not overwrite the default one
    assert (tmp_path / name / "quick" / "summary.json").exists()
    assert json.loads((tmp_path / name / "quick" / "config.json").read_text())["config"][
        "grid"] == get(name).make_config(quick=True).grid
    c = run_experiment(name, quick=True, out=tmp_path, verbose=False)
    assert c["reused"] and c["elapsed_s"] == a["elapsed_s"]
    d = run_experiment(name, quick=True, out=tmp_path, verbose=False, force=True)
    assert not d["reused"]
    # a run killed before its summary was written is not complete: it is recomputed
    (tmp_path / name / "quick" / "summary.json").unlink()
    assert not run_experiment(name, quick=True, out=tmp_path, verbose=False)["reused"]
    assert {r["key"] for r in stored_runs(tmp_path)} == {"quick", b["key"]}


def test_reproduce_with_workers_resumes(tmp_path):
    names = ["ez2021.fig4", "glrl2021.fig7"]
    seen = []
    report, failures = reproduce(names, quick=True, out=tmp_path, workers=2,
                                 on_done=lambda n, s, e: seen.append((n, s["reused"])))
    assert not failures and report.exists()
    assert sorted(n for n, _ in seen) == names and not any(r for _, r in seen)
    seen.clear()
    reproduce(names, quick=True, out=tmp_path, workers=1,
              on_done=lambda n, s, e: seen.append((n, s["reused"])))
    assert all(r for _, r in seen)
    # a --seed reproduce stores its own runs and reports those, not the defaults
    report, _ = reproduce(["ez2021.fig4"], quick=True, out=tmp_path, seed=3)
    text = report.read_text(encoding="utf-8")
    assert "seed 3" in text and "ez2021.fig4/quick-" in text and "glrl2021.fig7" not in text
    with pytest.raises(ValueError, match="workers"):
        reproduce(names, quick=True, out=tmp_path, workers=0)


def test_report_context_counts_only_reproduced_claims(tmp_path):
    _tiny_runs(tmp_path)
    ctx = build_context(tmp_path)
    keys = [p["key"] for p in ctx["papers"]]
    assert keys == ["ez2021", "hou2021", "glrl2021"]
    ez = ctx["papers"][0]
    assert ez["n_reproduces"] == 0 and ez["n_consistency"] == 4
    rows = [c for p in ctx["papers"] for e in p["experiments"] for c in e["claims"]]
    assert ctx["total"]["n_reproduces"] == sum(c["kind"] == "reproduces" for c in rows)
    assert all(c["standard"] for c in rows)


def _probe_page(report: Path) -> Path:
    """A copy of the report (same folder, so relative image paths resolve) whose load handler
    writes what the browser sees into <pre id="probe">."""
    js = ("<script>window.addEventListener('load',function(){var im=[].slice.call("
          "document.images);var r={images:im.length,loaded:im.filter(function(i){return "
          "i.complete&&i.naturalWidth>0}).length,rows:[].slice.call(document.querySelectorAll("
          "'tr.claim')).map(function(t){return t.getAttribute('data-id')}),summary:"
          "document.querySelectorAll('#summary tr').length};var p=document.createElement('pre');"
          "p.id='probe';p.textContent=JSON.stringify(r);document.body.appendChild(p);});"
          "</script></body>")
    probe = report.with_name("report-probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", js),
                     encoding="utf-8")
    return probe


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("Debian chromium is not installed and could not be: .ci/run installs it "
                    "with `apt-get install -y chromium` (needs root or passwordless sudo)")
    return exe


def test_report_in_headless_chromium(tmp_path):
    exe = _chromium()
    _tiny_runs(tmp_path)
    report = write_report(tmp_path)
    expected = [c["id"] for p in build_context(tmp_path)["papers"] for e in p["experiments"]
                for kind in ("reproduces", "consistency", "observation") for c in e[kind]]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--allow-file-access-from-files", "--virtual-time-budget=10000"]
    dom = subprocess.run([exe, *flags, "--dump-dom", _probe_page(report).as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, "the probe script did not run: " + dom[-500:]
    seen = json.loads(html.unescape(m.group(1)))
    n_figs = sum(len(e["figure_files"]) for p in build_context(tmp_path)["papers"]
                 for e in p["experiments"])
    assert seen["images"] == n_figs > 0
    assert seen["loaded"] == seen["images"], seen  # every image has natural width > 0
    assert seen["rows"] == expected
    assert seen["summary"] == 1 + 3  # header + one row per paper
    # the screenshot, to look at: LOWRANKLAB_SCREENSHOT=path.png keeps it outside tmp_path
    shot = Path(os.environ.get("LOWRANKLAB_SCREENSHOT", tmp_path / "report.png")).resolve()
    subprocess.run([exe, *flags, "--window-size=1280,4000", f"--screenshot={shot}",
                    report.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_cli_reproduce_and_run_force(tmp_path):
    from typer.testing import CliRunner

    from lowranklab.cli import app

    runner = CliRunner()
    args = ["reproduce", "--quick", "--only", "ez2021.fig4", "--out", str(tmp_path)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "report.html").exists() and "(consistency)" in r.output
    r = runner.invoke(app, ["run", "ez2021.fig4", "--quick", "--out", str(tmp_path)])
    assert r.exit_code == 0 and "reusing the stored run" in r.output
    summary = tmp_path / "ez2021.fig4" / "quick" / "summary.json"
    assert json.loads(summary.read_text())["reused"]
    r = runner.invoke(app, ["run", "ez2021.fig4", "--quick", "--force", "--out", str(tmp_path)])
    assert r.exit_code == 0 and "reusing" not in r.output
    assert not json.loads(summary.read_text())["reused"]
    r = runner.invoke(app, [*args, "--workers", "0"])
    assert r.exit_code == 2 and "workers" in r.output
    r = runner.invoke(app, ["reproduce", "--quick", "--only", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "matches no experiment" in r.output

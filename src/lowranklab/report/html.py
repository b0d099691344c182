"""The static HTML report: each paper's claims beside the measured values, with figures."""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path

from lowranklab.atomic import write_text

PAPERS = {
    "eftekhari2021": "Eftekhari — Over-parametrized matrix factorization in the presence of "
                     "spurious stationary points",
    "ez2021": "Eftekhari & Zygalakis — Limitations of implicit bias in matrix sensing: "
              "initialization rank matters",
    "zhu2021": "Zhu, Li, Tang & Wakin — The global optimization geometry of low-rank matrix "
               "optimization",
    "hou2021": "Hou, Li & Zhang — Asymptotic escape of spurious critical points on the "
               "low-rank matrix manifold",
    "glrl2021": "Li, Luo & Lyu — Towards resolving the implicit bias of gradient descent for "
                "matrix factorization: greedy low-rank learning",
    "demo": "lowranklab demo",
}


def write_report(out: str | Path) -> Path:
    """Collect every OUT/*/summary.json into OUT/report.html and return its path."""
    out = Path(out)
    by_paper: dict[str, list[dict]] = defaultdict(list)
    for p in sorted(out.glob("*/summary.json")):
        s = json.loads(p.read_text())
        by_paper[s["paper"]].append(s)
    n_claims = sum(len(s["claims"]) for ss in by_paper.values() for s in ss)
    n_hold = sum(c["holds"] for ss in by_paper.values() for s in ss for c in s["claims"])
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>lowranklab report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px;"
        "vertical-align:top}.ok{color:#070}.bad{color:#b00;font-weight:bold}"
        "img{max-width:520px;margin:4px}</style></head><body>",
        "<h1>lowranklab: the papers' claims beside the measured values</h1>",
        f"<p>{n_hold} of {n_claims} claims hold.</p>",
    ]
    order = [k for k in PAPERS if k in by_paper] + sorted(set(by_paper) - set(PAPERS))
    for paper in order:
        parts.append(f"<h2>{html.escape(PAPERS.get(paper, paper))}</h2>")
        for s in by_paper[paper]:
            size = "quick size" if s.get("quick") else "paper size"
            parts.append(f"<h3>{html.escape(s['experiment'])} <small>({size}, seed "
                         f"{s['seed']})</small></h3>")
            parts.append("<table><tr><th>claim</th><th>statement</th><th>paper</th>"
                         "<th>measured</th><th></th></tr>")
            for c in s["claims"]:
                cls, word = ("ok", "holds") if c["holds"] else ("bad", "fails")
                parts.append(
                    f"<tr><td>{html.escape(str(c['id']))}</td>"
                    f"<td>{html.escape(str(c['statement']))}</td>"
                    f"<td>{html.escape(_fmt(c['paper_value']))}</td>"
                    f"<td>{html.escape(_fmt(c['measured']))}</td>"
                    f"<td class='{cls}'>{word}</td></tr>")
            parts.append("</table>")
            for fig in sorted((out / "figures").glob(f"{s['experiment']}*.png")):
                parts.append(f"<img src='figures/{html.escape(fig.name)}' "
                             f"alt='{html.escape(fig.stem)}'>")
    parts.append("</body></html>")
    path = out / "report.html"
    write_text(path, "\n".join(parts))
    return path


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)

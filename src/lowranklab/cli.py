"""The `lowranklab` command.

    lowranklab info
    lowranklab solve PROBLEM.npz --model sym|asym --rank P ... --out RESULT.npz
    lowranklab experiments
    lowranklab run NAME [--quick] [--seed S] [--set key=value ...] [--out DIR]
    lowranklab figure NAME [--out DIR]
    lowranklab reproduce [--quick] [--only PAPER] [--out DIR]

Bad input prints one line `error: ...` and exits with status 2.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Nonconvex low-rank matrix recovery: solvers, landscape analysis and "
                       "the papers' experiments.")


class ModelKind(str, Enum):
    sym = "sym"
    asym = "asym"


class InitKind(str, Enum):
    small = "small"
    rank = "rank"
    identity = "identity"
    spectral = "spectral"


class SolverKind(str, Enum):
    gd = "gd"
    glrl = "glrl"  # glrl2021 Algorithm 1: the rank grows on its own, --rank caps it


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def info() -> None:
    """Print the version and the optional backends found."""
    import importlib.metadata as md

    from lowranklab import __version__

    typer.echo(f"lowranklab {__version__}")
    for pkg in ("numpy", "scipy", "pandas", "matplotlib", "pydantic", "cvxpy", "clarabel",
                "dask", "distributed", "torch", "array-api-compat"):
        try:
            typer.echo(f"  {pkg:<16} {md.version(pkg)}")
        except md.PackageNotFoundError:
            typer.echo(f"  {pkg:<16} not installed")


@app.command()
def solve(
    problem: Annotated[Path, typer.Argument(help="PROBLEM.npz: dense A and b, or rows, cols, "
                                            "values, shape; optional truth")],
    out: Annotated[Path, typer.Option(help="RESULT.npz to write")],
    model: Annotated[ModelKind, typer.Option(help="sym: X = UUᵀ; asym: balanced X = UVᵀ")]
        = ModelKind.sym,
    rank: Annotated[int | None, typer.Option(help="number of factor columns p (default 1; "
                                                  "for --solver glrl a cap, default d)")] = None,
    mu: Annotated[float, typer.Option(help="balancing weight μ of μ/4‖UᵀU − VᵀV‖²")] = 0.0,
    solver: Annotated[SolverKind, typer.Option()] = SolverKind.gd,
    init: Annotated[InitKind, typer.Option()] = InitKind.small,
    init_norm: Annotated[float, typer.Option(help="‖U₀‖_F (or u0 for identity)")] = 1e-3,
    init_rank: Annotated[int | None, typer.Option(help="rank of U₀ for --init rank")] = None,
    step: Annotated[float | None, typer.Option(help="step size (default: safe choice from "
                                                    "the curvature at the spectral estimate)")]
        = None,
    line_search: Annotated[str, typer.Option(help="constant or armijo")] = "constant",
    max_iter: Annotated[int | None, typer.Option(help="default 1000 (glrl: 10⁶ per phase)")]
        = None,
    epsilon: Annotated[float, typer.Option(help="glrl: squared norm ε of each new column")]
        = 1e-7,
    tol: Annotated[float | None, typer.Option(help="stop when ‖A(X) − b‖² ≤ tol")] = None,
    gtol: Annotated[float | None, typer.Option(help="stop when ‖∇F‖ ≤ gtol")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Solve a saved problem with a factored model and write RESULT.npz."""
    from lowranklab.io import save_result
    from lowranklab.models import BalancedFactor, SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.objective import Objective
    from lowranklab.problems import Problem
    from lowranklab.solvers import gradient_descent

    try:
        P = Problem.load(problem)
        d1, d2 = P.shape
        if solver is SolverKind.glrl:
            from lowranklab.solvers.greedy import solve_problem_glrl

            if model is not ModelKind.sym:
                raise ValueError("--solver glrl needs --model sym")
            res, U = solve_problem_glrl(P, epsilon=epsilon, step=step, max_rank=rank,
                                        max_iter=max_iter, gtol=gtol, progress=not quiet)
            save_result(out, res, model_name=model.value, factors={"U": U})
            if not quiet:
                typer.echo(str(res))
                typer.echo(f"wrote {out}")
            return
        rank = 1 if rank is None else rank
        max_iter = 1000 if max_iter is None else max_iter
        if rank < 1 or rank > (d1 if model is ModelKind.sym else min(d1, d2)):
            raise ValueError(f"--rank must be in [1, {d1 if model is ModelKind.sym else min(d1, d2)}]"
                             f" for a {d1}×{d2} problem, got {rank}")
        if model is ModelKind.sym:
            if d1 != d2:
                raise ValueError(f"--model sym needs a square problem, got {d1}×{d2}")
            par = SymmetricFactor(d1, rank)
        else:
            par = BalancedFactor(d1, d2, rank, mu=mu)
        if step is not None and not step > 0:
            raise ValueError(f"--step must be > 0, got {step}")
        rng = np.random.default_rng(seed)
        theta0 = initialize(par, init.value, rng, norm=init_norm, rank=init_rank, op=P.op, b=P.b)
        obj = Objective(P.loss(), par)
        res = gradient_descent(obj, theta0, step=step, line_search=line_search,
                               max_iter=max_iter, tol=tol, gtol=gtol, truth=P.truth,
                               progress=not quiet)
        factors = dict(zip(("U", "V"), par.unpack(res.theta), strict=False))
        save_result(out, res, model_name=model.value, factors=factors, mu=mu)
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        fail(str(e))
    if not quiet:
        typer.echo(str(res))
        typer.echo(f"wrote {out}")


@app.command("experiments")
def list_experiments() -> None:
    """List the registered experiments: name, paper, figure, one line."""
    from lowranklab.experiments import load_all

    reg = load_all()
    width = max(len(n) for n in reg)
    for name in sorted(reg):
        e = reg[name]
        typer.echo(f"{name:<{width}}  {e.paper:<14} {e.figure:<12} {e.summary}")


def _parse_sets(sets: list[str]) -> dict:
    out = {}
    for s in sets:
        if "=" not in s:
            raise ValueError(f"--set expects key=value, got {s!r}")
        k, v = s.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


@app.command("run")
def run_cmd(
    name: str,
    quick: Annotated[bool, typer.Option("--quick", help="small size (about a minute)")] = False,
    seed: Annotated[int | None, typer.Option()] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="config key=value")] = None,
    out: Annotated[Path, typer.Option()] = Path("lowranklab-results"),
) -> None:
    """Run one experiment, store its results, draw its figures, write summary.json."""
    from pydantic import ValidationError

    from lowranklab.experiments.runner import run_experiment

    try:
        summary = run_experiment(name, quick=quick, seed=seed, overrides=_parse_sets(set_ or []),
                                 out=out)
    except ValidationError as e:
        fail("invalid config: " + "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}"
                                            for x in e.errors()))
    except ValueError as e:
        fail(str(e))
    _print_claims(summary)


def _print_claims(summary: dict) -> None:
    for c in summary["claims"]:
        mark = "holds" if c["holds"] else "FAILS"
        typer.echo(f"  [{mark}] {c['id']}: {c['statement']} — paper {c['paper_value']}, "
                   f"measured {_fmt(c['measured'])}")
    for f in summary.get("figures", []):
        typer.echo(f"  figure: {f}")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


@app.command()
def figure(
    name: str,
    out: Annotated[Path, typer.Option()] = Path("lowranklab-results"),
) -> None:
    """Redraw an experiment's figures from its stored results (no recomputation)."""
    from lowranklab.experiments.runner import draw_figures

    try:
        for p in draw_figures(name, out=out):
            typer.echo(f"wrote {p}")
    except ValueError as e:
        fail(str(e))


@app.command()
def reproduce(
    quick: Annotated[bool, typer.Option("--quick")] = False,
    only: Annotated[list[str] | None, typer.Option(help="paper or experiment name(s)")] = None,
    out: Annotated[Path, typer.Option()] = Path("lowranklab-results"),
    seed: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run every registered experiment, draw every figure and write OUT/report.html."""
    from lowranklab.experiments import load_all
    from lowranklab.experiments.runner import run_experiment
    from lowranklab.report.html import write_report

    names = sorted(load_all())
    if only:
        names = [n for n in names if n in only or n.split(".")[0] in only]
        if not names:
            fail(f"--only {only} matches no experiment")
    failures = []
    for i, name in enumerate(names, 1):
        typer.echo(f"[{i}/{len(names)}] {name}", err=True)
        try:
            summary = run_experiment(name, quick=quick, seed=seed, out=out)
            _print_claims(summary)
        except Exception as e:  # one broken experiment must not hide the others' results
            failures.append(name)
            typer.echo(f"  error in {name}: {type(e).__name__}: {e}", err=True)
    report = write_report(out)
    typer.echo(f"report: {report}")
    if failures:
        fail(f"{len(failures)} experiment(s) raised: {', '.join(failures)}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

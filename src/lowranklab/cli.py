"""The `lowranklab` command.

    lowranklab info
    lowranklab solve PROBLEM.npz --model sym|asym --rank P ... --out RESULT.npz
    lowranklab inspect RESULT.npz --problem PROBLEM.npz [--json]
    lowranklab experiments
    lowranklab run NAME [--quick] [--seed S] [--set key=value ...] [--out DIR]
    lowranklab figure NAME [--out DIR]
    lowranklab reproduce [--quick] [--only PAPER] [--out DIR]
    lowranklab sweep SPEC.toml --out DIR [--executor serial|local|dask] [--resume]
    lowranklab sweep-status DIR;  lowranklab sweep-plot DIR --x AXIS --y AXIS

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
    fixed_rank = "fixed-rank"


class InitKind(str, Enum):
    small = "small"
    rank = "rank"
    identity = "identity"
    spectral = "spectral"


class SolverKind(str, Enum):
    gd = "gd"
    noisy_gd = "noisy-gd"  # zhu2021 / Ge et al. 2015
    perturbed_gd = "perturbed-gd"  # Jin et al. 2017
    rgd = "rgd"  # hou2021 Riemannian GD on the fixed-rank manifold
    merit = "merit"  # eftekhari2021 Algorithm 1
    merit_euler = "merit-euler"
    merit_bfgs = "merit-bfgs"
    sdp = "sdp"  # convex baseline (cvxpy)
    glrl = "glrl"  # glrl2021 Algorithm 1


MIN_NORM_SOLVERS = {SolverKind.merit, SolverKind.merit_euler, SolverKind.merit_bfgs,
                    SolverKind.sdp}


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
                "dask", "distributed", "numba", "torch", "array-api-compat"):
        try:
            typer.echo(f"  {pkg:<16} {md.version(pkg)}")
        except md.PackageNotFoundError:
            typer.echo(f"  {pkg:<16} not installed")
    from lowranklab.operators.kernels import backend

    typer.echo(f"completion kernels: {backend()}")


@app.command()
def solve(
    problem: Annotated[Path, typer.Argument(help="PROBLEM.npz: dense A and b, or rows, cols, "
                                            "values, shape; optional truth")],
    out: Annotated[Path, typer.Option(help="RESULT.npz to write")],
    model: Annotated[ModelKind, typer.Option(help="sym: X = UUᵀ; asym: balanced X = UVᵀ; "
                                             "fixed-rank: the manifold (with --solver rgd)")]
        = ModelKind.sym,
    rank: Annotated[int | None, typer.Option(help="factor columns p / manifold rank r "
                                                  "(default 1; glrl: a cap, default d)")]
        = None,
    mu: Annotated[float, typer.Option(help="balancing weight μ of μ/4‖UᵀU − VᵀV‖²")] = 0.0,
    solver: Annotated[SolverKind, typer.Option()] = SolverKind.gd,
    init: Annotated[InitKind, typer.Option()] = InitKind.small,
    init_norm: Annotated[float | None, typer.Option(help="‖U₀‖_F (or u0 for identity); "
                                                    "default 1e-3, 3 for merit solvers")] = None,
    init_rank: Annotated[int | None, typer.Option(help="rank of U₀ for --init rank")] = None,
    init_from: Annotated[Path | None, typer.Option(help="start from the factors in a "
                                                   "RESULT.npz (e.g. a saddle)")] = None,
    step: Annotated[float | None, typer.Option(help="step size (default: safe choice from "
                                                    "the curvature at the spectral estimate)")]
        = None,
    line_search: Annotated[str, typer.Option(help="constant or armijo (rgd: also exact)")]
        = "constant",
    step_rule: Annotated[str, typer.Option(help="rgd: fixed (α_k = α) or sigma "
                                                "(α_k = α·σ_r(Z_k))")] = "fixed",
    max_iter: Annotated[int | None, typer.Option(help="default 1000; merit 3·10⁵; "
                                                      "glrl 10⁶ per phase")] = None,
    noise: Annotated[float | None, typer.Option(help="noisy-gd: noise radius ε; perturbed-gd: "
                                                "perturbation ball radius (default 1e-3)")]
        = None,
    gamma: Annotated[float | None, typer.Option(help="merit penalty γ (default 100)")] = None,
    epsilon: Annotated[float, typer.Option(help="glrl: squared norm ε of each new column")]
        = 1e-7,
    tol: Annotated[float | None, typer.Option(help="stop when ‖A(X) − b‖² ≤ tol")] = None,
    gtol: Annotated[float | None, typer.Option(help="stop when ‖∇F‖ ≤ gtol")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Solve a saved problem and write RESULT.npz (the solver decides the model it needs)."""
    from lowranklab.io import save_result
    from lowranklab.problems import Problem

    try:
        if step is not None and not step > 0:
            raise ValueError(f"--step must be > 0, got {step}")
        if noise is not None and solver not in (SolverKind.noisy_gd, SolverKind.perturbed_gd):
            raise ValueError("--noise applies to --solver noisy-gd or perturbed-gd only")
        if solver in MIN_NORM_SOLVERS:  # min ‖U‖²_F s.t. A(UUᵀ) = b: its own file handling
            from lowranklab.solvers.min_norm_cli import solve_min_norm

            msg = solve_min_norm(problem, out, solver=solver.value, rank=_or(rank, 1),
                                 gamma=gamma, step=step, max_iter=max_iter, init=init.value,
                                 init_norm=init_norm, init_rank=init_rank, seed=seed,
                                 progress=not quiet)
            if not quiet:
                typer.echo(f"{msg}\nwrote {out}")
            return
        P = Problem.load(problem)
        if solver is SolverKind.glrl:
            from lowranklab.solvers.greedy import solve_problem_glrl

            if model is not ModelKind.sym:
                raise ValueError("--solver glrl needs --model sym")
            res, U = solve_problem_glrl(P, epsilon=epsilon, step=step, max_rank=rank,
                                        max_iter=max_iter, gtol=gtol, progress=not quiet)
            factors = {"U": U}
        elif solver is SolverKind.rgd or model is ModelKind.fixed_rank:
            from lowranklab.solvers.riemannian import solve_problem

            if model is not ModelKind.fixed_rank or solver is not SolverKind.rgd:
                raise ValueError("--solver rgd goes with --model fixed-rank")
            res, factors = solve_problem(P, _or(rank, 1), step_rule=step_rule, init=init.value,
                                         init_norm=_or(init_norm, 1e-3), step=step,
                                         line_search=line_search, max_iter=_or(max_iter, 1000),
                                         tol=tol, gtol=gtol, seed=seed, progress=not quiet)
        else:
            res, factors = _solve_factored(
                P, model, _or(rank, 1), mu, solver, init, _or(init_norm, 1e-3), init_rank,
                init_from, step, line_search, _or(max_iter, 1000), noise, tol, gtol, seed,
                not quiet)
        save_result(out, res, model_name=model.value, factors=factors, mu=mu)
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as e:
        fail(str(e))
    if not quiet:
        typer.echo(str(res))
        typer.echo(f"wrote {out}")


def _or(value, default):
    """The option's value, or its default when it was not given (0 stays 0)."""
    return default if value is None else value


def _solve_factored(P, model, rank, mu, solver, init, init_norm, init_rank, init_from, step,
                    line_search, max_iter, noise, tol, gtol, seed, progress):
    """gd / noisy-gd / perturbed-gd on f(UUᵀ) or f(UVᵀ) + μ/4‖UᵀU − VᵀV‖²."""
    from lowranklab.models import BalancedFactor, SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.objective import Objective
    from lowranklab.solvers import gradient_descent
    from lowranklab.solvers.noisy import solve_with, theta_from_result

    d1, d2 = P.shape
    max_rank = d1 if model is ModelKind.sym else min(d1, d2)
    if not 1 <= rank <= max_rank:
        raise ValueError(f"--rank must be in [1, {max_rank}] for a {d1}×{d2} problem, "
                         f"got {rank}")
    if model is ModelKind.sym:
        if d1 != d2:
            raise ValueError(f"--model sym needs a square problem, got {d1}×{d2}")
        par = SymmetricFactor(d1, rank)
    else:
        par = BalancedFactor(d1, d2, rank, mu=mu)
    rng = np.random.default_rng(seed)
    if init_from is not None:
        theta0 = theta_from_result(init_from, par)
    else:
        theta0 = initialize(par, init.value, rng, norm=init_norm, rank=init_rank, op=P.op,
                            b=P.b)
    obj = Objective(P.loss(), par)
    if solver is SolverKind.gd:
        res = gradient_descent(obj, theta0, step=step, line_search=line_search,
                               max_iter=max_iter, tol=tol, gtol=gtol, truth=P.truth,
                               progress=progress)
    else:
        res = solve_with(solver.value, obj, theta0, noise=noise, rng=rng, step=step,
                         max_iter=max_iter, tol=tol, gtol=gtol, truth=P.truth,
                         progress=progress)
    return res, dict(zip(("U", "V"), par.unpack(res.theta), strict=False))


@app.command()
def inspect(
    result: Annotated[Path, typer.Argument(help="RESULT.npz written by `lowranklab solve`")],
    problem: Annotated[Path, typer.Option(help="PROBLEM.npz the result was solved on")],
    json_: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    f_star: Annotated[float | None, typer.Option(help="known optimal value (default: 0 for a "
                                                     "noiseless planted truth, else a "
                                                     "certificate)")] = None,
) -> None:
    """What is this point? Gradient, Hessian spectrum on the symmetry complement, and kind."""
    from lowranklab.landscape.inspect import inspect_files

    try:
        report = inspect_files(result, problem, f_star=f_star)
    except (ValueError, TypeError, OSError, RuntimeError) as e:
        fail(str(e))
    typer.echo(json.dumps(report.as_dict()) if json_ else str(report))


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


@app.command()
def sweep(
    target: Annotated[str, typer.Argument(help="SPEC.toml, or a registered experiment name")],
    out: Annotated[Path, typer.Option(help="sweep directory (holds sweep.sqlite)")]
        = Path("lowranklab-results/sweep"),
    executor: Annotated[str, typer.Option(help="serial, local (all cores) or dask")] = "local",
    workers: Annotated[int | None, typer.Option(help="processes (default: all cores)")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler, tcp://host:port")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue (or join) the sweep in OUT")]
        = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="rerun failed tasks")]
        = False,
    export: Annotated[Path | None, typer.Option(help="write one row per task as Parquet")]
        = None,
    grid: Annotated[list[str] | None, typer.Option(help="key=v1,v2,... (repeatable)")] = None,
    seeds: Annotated[str | None, typer.Option(help="seeds: '0:10' or '1,5,7'")] = None,
    fixed: Annotated[list[str] | None, typer.Option("--set", help="param key=value")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="an experiment's quick size")] = False,
) -> None:
    """Run a sweep (TOML spec, or an experiment over --grid × --seeds) into OUT; resumable."""
    from lowranklab.sweep.commands import UsageError, sweep_command

    try:
        code = sweep_command(target, out=out, executor=executor, workers=workers,
                             scheduler=scheduler, resume=resume, retry_failed=retry_failed,
                             export=export, grid=grid or [], seeds=seeds, sets=fixed or [],
                             quick=quick, echo=typer.echo)
    except UsageError as e:
        fail(str(e))
    raise typer.Exit(code)


@app.command("sweep-status")
def sweep_status(directory: Annotated[Path, typer.Argument(help="sweep directory")]) -> None:
    """Print the done / failed / interrupted / pending counts of the sweep in DIRECTORY."""
    from lowranklab.sweep.commands import UsageError, status_command

    try:
        status_command(directory, echo=typer.echo)
    except UsageError as e:
        fail(str(e))


@app.command("sweep-plot")
def sweep_plot(
    directory: Annotated[Path, typer.Argument(help="sweep directory")],
    x: Annotated[str, typer.Option("--x", help="grid axis on the horizontal")],
    y: Annotated[str, typer.Option("--y", help="grid axis on the vertical")],
    boundary: Annotated[str | None, typer.Option(help="theory boundary, e.g. dof")] = None,
    out: Annotated[Path | None, typer.Option(help="figure file (.png/.pdf/.svg)")] = None,
) -> None:
    """Draw the success probability over two grid axes (phase transition) of a sweep."""
    from lowranklab.sweep.commands import UsageError, plot_command

    try:
        plot_command(directory, x, y, boundary, out, echo=typer.echo)
    except UsageError as e:
        fail(str(e))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

"""The `lowranklab` command (thin typer wrappers; the logic lives in cli.solve,
cli.experiments, cli.checks and the library).

    lowranklab --version | info
    lowranklab solve PROBLEM.npz --model sym|asym|fixed-rank --rank P ... --out RESULT.npz [--force]
    lowranklab inspect RESULT.npz --problem PROBLEM.npz [--json]
    lowranklab experiments
    lowranklab run NAME [--quick] [--seed S] [--set key=value ...] [--out DIR] [--help-config]
    lowranklab figure NAME [--out DIR]
    lowranklab reproduce [--quick] [--only PAPER] [--out DIR]
    lowranklab sweep NAME --grid key=v1,v2 --seeds 0:10 [--executor processes|dask]

Every input is checked before any work starts; bad input prints one line `error: ...` and
exits with status 2 (usage errors included, see `main`). Files are written atomically and an
existing --out only with --force (cli.checks has the policy). Nothing heavy is imported at
module level, so `lowranklab --help` starts in a fraction of a second.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
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
    rcg = "rcg"  # Riemannian conjugate gradient, exact step (the fixed-rank default)
    merit = "merit"  # eftekhari2021 Algorithm 1
    merit_euler = "merit-euler"
    merit_bfgs = "merit-bfgs"
    sdp = "sdp"  # convex baseline (cvxpy)
    sdp_bm = "sdp-bm"  # Burer–Monteiro augmented Lagrangian (SDPLR), certified
    glrl = "glrl"  # glrl2021 Algorithm 1
    scaled_gd = "scaled-gd"  # ScaledGD (Tong, Ma & Chi 2021) with the exact line search
    lbfgs = "lbfgs"  # L-BFGS on the factors with the exact line search (fastest completion)


def _print_version(value: bool) -> None:
    if value:
        from lowranklab import __version__

        typer.echo(f"lowranklab {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Nonconvex low-rank matrix recovery: solvers, landscape analysis and the papers'
    experiments. Bad input prints one line `error: ...` and exits with status 2."""


def fail(message: str) -> NoReturn:
    """Print `error: MESSAGE` as one line on stderr and exit with status 2."""
    line = " ".join(str(message).split()) or "invalid input"
    typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)


@app.command()
def info(
    check_kernels: Annotated[bool, typer.Option("--check-kernels", help="import the compiled "
                                                "kernels to confirm they load (about 1 s)")]
        = False,
) -> None:
    """Print the version and the optional backends found (from the package metadata: no
    backend is imported, so this starts fast)."""
    import importlib.metadata as md
    import os

    from lowranklab import __version__

    typer.echo(f"lowranklab {__version__}")
    found = {}
    for pkg in ("numpy", "scipy", "pandas", "matplotlib", "pydantic", "cvxpy", "clarabel",
                "dask", "distributed", "numba", "torch", "array-api-compat"):
        try:
            found[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            found[pkg] = None
        typer.echo(f"  {pkg:<16} {found[pkg] or 'not installed'}")
    if check_kernels:
        from lowranklab.operators.kernels import backend

        typer.echo(f"completion kernels: {backend()}")
    elif os.environ.get("LOWRANKLAB_NUMBA", "1") == "0":
        typer.echo("completion kernels: numpy (LOWRANKLAB_NUMBA=0)")
    else:
        typer.echo("completion kernels: " + ("numba (installed; --check-kernels to load them)"
                                             if found["numba"] else "numpy (numba not "
                                                                    "installed)"))
    from lowranklab.threads import ENV as BLAS_ENV

    blas = os.environ.get(BLAS_ENV, "auto")
    blas = {"auto": "one thread", "keep": "unchanged"}.get(blas, f"{blas} threads")
    typer.echo(f"kernel threads: {os.environ.get('LOWRANKLAB_THREADS', '1')} "
               f"(LOWRANKLAB_THREADS); BLAS during completion solves: {blas} ({BLAS_ENV})")


@app.command()
def solve(
    problem: Annotated[Path, typer.Argument(help="PROBLEM.npz: dense A and b, or rows, cols, "
                                            "values, shape; optional truth")],
    out: Annotated[Path, typer.Option(help="RESULT.npz to write (atomically; an existing "
                                           "file only with --force)")],
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing --out")]
        = False,
    model: Annotated[ModelKind | None, typer.Option(help="sym: X = UUᵀ (default); asym: "
                                                    "balanced X = UVᵀ; fixed-rank: the "
                                                    "manifold (--solver rcg, the default "
                                                    "there, or rgd)")] = None,
    rank: Annotated[int | None, typer.Option(help="factor columns p / manifold rank r "
                                                  "(default 1; glrl: a cap, default d)")]
        = None,
    mu: Annotated[float | None, typer.Option(help="--model asym: balancing weight μ of "
                                                  "μ/4‖UᵀU − VᵀV‖² (default 0)")] = None,
    solver: Annotated[SolverKind | None, typer.Option(help="default gd (rcg for --model "
                                                      "fixed-rank)")] = None,
    init: Annotated[InitKind | None, typer.Option(help="default small")] = None,
    init_norm: Annotated[float | None, typer.Option(help="‖U₀‖_F (or u0 for identity); "
                                                    "default 1e-3, 3 for merit solvers")] = None,
    init_rank: Annotated[int | None, typer.Option(help="rank of U₀ for --init rank")] = None,
    init_from: Annotated[Path | None, typer.Option(help="gd solvers: start from the factors "
                                                   "in a RESULT.npz (e.g. a saddle)")] = None,
    step: Annotated[float | None, typer.Option(help="step size (default: safe choice from "
                                                    "the curvature at the spectral estimate)")]
        = None,
    line_search: Annotated[str | None, typer.Option(help="gd, rgd: constant (default), "
                                                    "armijo or exact")] = None,
    step_rule: Annotated[str | None, typer.Option(help="rgd: fixed (α_k = α, default) or "
                                                  "sigma (α_k = α·σ_r(Z_k))")] = None,
    max_iter: Annotated[int | None, typer.Option(help="default 1000; merit 3·10⁵; "
                                                      "glrl 10⁶ per phase")] = None,
    noise: Annotated[float | None, typer.Option(help="noisy-gd: noise radius ε; perturbed-gd: "
                                                "perturbation ball radius (default 1e-3)")]
        = None,
    gamma: Annotated[float | None, typer.Option(help="merit penalty γ (default 100)")] = None,
    epsilon: Annotated[float | None, typer.Option(help="glrl: squared norm ε of each new "
                                                  "column (default 1e-7)")] = None,
    tol: Annotated[float | None, typer.Option(help="gd, rgd: stop when ‖A(X) − b‖² ≤ tol")]
        = None,
    gtol: Annotated[float | None, typer.Option(help="stop when ‖∇F‖ ≤ gtol")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the initialization / noise "
                                                  "(default 0)")] = None,
    backend: Annotated[str | None, typer.Option(help="numpy (default) or torch (needs "
                                                "lowranklab[torch])")] = None,
    device: Annotated[str | None, typer.Option(help="--backend torch: cpu (default), cuda, "
                                               "cuda:N")] = None,
    dtype: Annotated[str | None, typer.Option(help="float64 (default) or float32")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Solve a saved problem and write RESULT.npz (the solver decides the model it needs).
    Options that do not apply to the chosen solver are refused, not ignored."""
    from lowranklab.cli.solve import run_solve

    try:
        msg = run_solve(problem, out, force=force, model=_value(model), solver=_value(solver),
                        rank=rank, mu=mu, init=_value(init), init_norm=init_norm,
                        init_rank=init_rank, init_from=init_from, step=step,
                        line_search=line_search, step_rule=step_rule, max_iter=max_iter,
                        noise=noise, gamma=gamma, epsilon=epsilon, tol=tol, gtol=gtol,
                        seed=seed, backend=backend, device=device, dtype=dtype,
                        progress=not quiet)
    except (ValueError, TypeError, OSError, RuntimeError, ImportError, MemoryError) as e:
        fail(str(e))
    if not quiet:
        typer.echo(msg)
        typer.echo(f"wrote {out}")


def _value(option: Enum | None) -> str | None:
    return None if option is None else option.value


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
    from lowranklab.cli import checks

    try:
        checks.input_file(result, "RESULT")
        checks.input_file(problem, "--problem")
        checks.number("--f-star", f_star)
        from lowranklab.landscape.inspect import inspect_files

        report = inspect_files(result, problem, f_star=f_star)
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as e:
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


@app.command("run")
def run_cmd(
    name: str,
    quick: Annotated[bool, typer.Option("--quick", help="small size (about a minute)")] = False,
    seed: Annotated[int | None, typer.Option()] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE",
                                                   help="config value (repeatable; "
                                                        "a=1,b=2 sets two)")] = None,
    out: Annotated[Path, typer.Option(help="results directory (created; NAME's results "
                                           "in it are replaced)")] = Path("lowranklab-results"),
    help_config: Annotated[bool, typer.Option("--help-config", help="list NAME's config "
                                              "keys, defaults and ranges, and exit")] = False,
    force: Annotated[bool, typer.Option("--force", help="recompute a stored run")] = False,
) -> None:
    """Run one experiment, store its results under its configuration, draw its figures,
    write summary.json (a stored run of the same config is reused unless --force)."""
    from pydantic import ValidationError

    from lowranklab.cli.experiments import (
        check_config,
        check_out_dir,
        config_help,
        format_validation_error,
        parse_sets,
    )

    try:
        if help_config:
            typer.echo(config_help(name))
            return
        overrides = parse_sets(set_ or [])
        check_config(name, quick=quick, seed=seed, overrides=overrides)
        check_out_dir(out)
        from lowranklab.experiments.runner import run_experiment

        summary = run_experiment(name, quick=quick, seed=seed, overrides=overrides, out=out,
                                 force=force)
    except ValidationError as e:
        fail(format_validation_error(e))
    except (ValueError, OSError) as e:
        fail(str(e))
    _print_claims(summary)


def _print_claims(summary: dict) -> None:
    from lowranklab.report.html import fmt_value

    for c in summary["claims"]:
        mark = "holds" if c["holds"] else "FAILS"
        kind = "" if c.get("kind", "reproduces") == "reproduces" else f" ({c['kind']})"
        typer.echo(f"  [{mark}] {c['id']}{kind}: {c['statement']} — paper "
                   f"{fmt_value(c['paper_value'])}, measured {fmt_value(c['measured'])}")
    for f in summary.get("figures", []):
        typer.echo(f"  figure: {f}")


@app.command()
def figure(
    name: str,
    out: Annotated[Path, typer.Option(help="results directory of `lowranklab run`")]
        = Path("lowranklab-results"),
) -> None:
    """Redraw an experiment's figures from its stored results (no recomputation)."""
    from lowranklab.cli.experiments import check_out_dir
    from lowranklab.experiments import get

    try:
        get(name)
        check_out_dir(out, must_exist=True)
        from lowranklab.experiments.runner import draw_figures

        for p in draw_figures(name, out=out):
            typer.echo(f"wrote {p}")
    except (ValueError, OSError) as e:
        fail(str(e))


@app.command()
def reproduce(
    quick: Annotated[bool, typer.Option("--quick")] = False,
    only: Annotated[list[str] | None, typer.Option(help="paper or experiment name(s)")] = None,
    out: Annotated[Path, typer.Option()] = Path("lowranklab-results"),
    seed: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="experiments run in parallel processes")] = 1,
    force: Annotated[bool, typer.Option("--force", help="recompute stored runs")] = False,
) -> None:
    """Run every registered experiment (reusing stored runs unless --force), draw every figure
    and write OUT/report.html."""
    from lowranklab.cli.experiments import check_out_dir
    from lowranklab.experiments import load_all

    names = sorted(load_all())
    if only:
        unmatched = [o for o in only if not any(n == o or n.split(".")[0] == o for n in names)]
        if unmatched:
            fail(f"--only {', '.join(unmatched)} matches no experiment or paper")
        names = [n for n in names if n in only or n.split(".")[0] in only]
    try:
        if seed is not None and seed < 0:
            raise ValueError(f"--seed must be >= 0, got {seed}")
        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        check_out_dir(out)
    except ValueError as e:
        fail(str(e))
    from lowranklab.report.reproduce import reproduce as run_all

    count = {"i": 0}

    def on_done(name, summary, err):
        count["i"] += 1
        typer.echo(f"[{count['i']}/{len(names)}] {name}", err=True)
        if err is not None:
            typer.echo(f"  error in {name}: {type(err).__name__}: {err}", err=True)
        else:
            _print_claims(summary)

    report, failures = run_all(names, quick=quick, out=out, seed=seed, workers=workers,
                               force=force, on_done=on_done)
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
    batch: Annotated[int, typer.Option(help="claim N tasks at a time; same-shape sensing "
                                             "tasks then run as one batched GD")] = 1,
) -> None:
    """Run a sweep (TOML spec, or an experiment over --grid × --seeds) into OUT; resumable."""
    from lowranklab.sweep.commands import UsageError, sweep_command

    try:
        code = sweep_command(target, out=out, executor=executor, workers=workers,
                             scheduler=scheduler, resume=resume, retry_failed=retry_failed,
                             export=export, grid=grid or [], seeds=seeds, sets=fixed or [],
                             quick=quick, batch=batch, echo=typer.echo)
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


@app.command()
def complete(
    input: Annotated[Path, typer.Argument(help="triplets (CSV with header row,col,value, or "
                                          "Parquet) or a dense CSV with blanks for missing")],
    out: Annotated[Path, typer.Option(help="OUTPUT.csv / .parquet (completed matrix) or "
                                      ".npz with --factors")],
    rank: Annotated[str, typer.Option(help="an integer, or auto (validated rank path)")]
        = "auto",
    holdout: Annotated[float | None, typer.Option(help="hold out this fraction of the "
                                                  "observed entries and print their RMSE")]
        = None,
    factors: Annotated[bool, typer.Option("--factors", help="write U, V, mean (.npz)")]
        = False,
    format: Annotated[str, typer.Option("--format", help="auto, triplets or dense")] = "auto",
    duplicates: Annotated[str, typer.Option(help="repeated (row, col): error or mean")]
        = "error",
    seed: Annotated[int, typer.Option()] = 0,
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing --out")]
        = False,
) -> None:
    """Fill in the missing entries of a matrix (lowranklab.MatrixCompletion)."""
    from lowranklab.cli.complete import complete as run_complete

    try:
        summary = run_complete(input, out, rank=rank, holdout=holdout, factors=factors,
                               fmt=format, duplicates=duplicates, seed=seed, force=force)
    except (ValueError, TypeError, OSError) as e:
        fail(str(e))
    if summary["holdout_rmse"] is not None:
        typer.echo(f"held-out RMSE: {summary['holdout_rmse']:.6g}")
    typer.echo(f"rank {summary['rank']}, {summary['n_observed']} observed entries of a "
               f"{summary['shape'][0]}×{summary['shape'][1]} matrix; wrote {out}")


def main(args: list[str] | None = None) -> None:
    """The `lowranklab` entry point. Usage errors (unknown option, a value that does not
    parse) print one `error:` line and exit 2 like every other bad input; Ctrl-C exits 130."""
    try:
        rc = app(args=args, prog_name="lowranklab", standalone_mode=False)
    except typer.Exit as e:
        rc = e.exit_code
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        rc = 130
    except Exception as e:
        # click's (or typer's vendored click's) UsageError family: duck-typed, as typer ≥ 0.2x
        # ships its own copy of click and older versions raise click's classes.
        if not (hasattr(e, "format_message") and hasattr(e, "exit_code")):
            raise
        if type(e).__name__ == "NoArgsIsHelpError":  # `lowranklab` alone: the help, exit 0
            typer.echo(e.ctx.get_help())
            rc = 0
        else:
            typer.echo(f"error: {' '.join(e.format_message().split())}", err=True)
            rc = 2
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()

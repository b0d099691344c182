"""`lowranklab solve` for the factored, Riemannian and greedy solvers: from a loaded `Problem`
and the command's options to a `Result` and the factors RESULT.npz stores.

Copied here from solvers/ (noisy.solve_with, noisy.theta_from_result, riemannian.solve_problem,
greedy.solve_problem_glrl): file handling and option defaults belong to the CLI layer; the
solvers are called only through their public entry points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lowranklab.solvers.result import Result


def theta_from_result(path: str | Path, model) -> np.ndarray:
    """θ for `model` from a RESULT.npz written by `lowranklab solve` (`--init-from`): U, and V
    for balanced models; the factor shapes must match the model's."""
    from lowranklab.io import load_result
    from lowranklab.models import BalancedFactor

    data = load_result(path)
    factors = [data["U"], data.get("V")] if isinstance(model, BalancedFactor) else [data["U"]]
    if any(f is None for f in factors):
        raise ValueError(f"--init-from {path}: has no 'V'; it was not written by an "
                         "asymmetric model")
    for f in factors:
        if np.iscomplexobj(f) or not np.issubdtype(f.dtype, np.number) \
                or not np.all(np.isfinite(f)):
            raise ValueError(f"--init-from {path}: factors must be finite real numbers")
    try:
        return model.check(model.pack(*[np.asarray(f, dtype=float) for f in factors]),
                           "init-from factors")
    except ValueError as e:
        raise ValueError(f"--init-from {path}: factor shapes do not fit the model: {e}") from e



ARRAY_SOLVERS = ("gd", "scaled-gd", "noisy-gd", "perturbed-gd", "rgd", "rcg")


def check_arrays(backend: str | None, device: str | None, dtype: str | None, solver: str):
    """--backend numpy|torch, --device (torch only: cpu, cuda, cuda:N), --dtype float64|float32:
    checked before any work; returns a function that moves a NumPy array onto that backend,
    device and dtype (None: keep NumPy float64)."""
    if backend not in (None, "numpy", "torch"):
        raise ValueError(f"--backend must be numpy or torch, got {backend!r}")
    if dtype not in (None, "float64", "float32"):
        raise ValueError(f"--dtype must be float64 or float32, got {dtype!r}")
    if device is not None and backend != "torch":
        raise ValueError("--device applies to --backend torch only")
    if (backend == "torch" or dtype is not None) and solver not in ARRAY_SOLVERS:
        raise ValueError(f"--backend/--dtype apply to --solver {', '.join(ARRAY_SOLVERS)}; "
                         f"{solver} runs on NumPy float64 only")
    if backend != "torch":
        if dtype != "float32":
            return None
        return lambda a: np.asarray(a, dtype=np.float32)
    try:
        import torch
    except ImportError as e:
        raise ValueError("--backend torch needs PyTorch: pip install 'lowranklab[torch]'") from e
    dev = device or "cpu"
    try:
        dev = torch.device(dev)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"--device: {e}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    tdt = torch.float32 if dtype == "float32" else torch.float64
    return lambda a: torch.tensor(np.asarray(a, dtype=np.float64), dtype=tdt, device=dev)


def to_numpy(x):
    """A tensor (or array) as a NumPy float64 array, after the solve."""
    if hasattr(x, "detach"):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def numpy_result(res: Result) -> Result:
    """The result with its factors and X on NumPy (for RESULT.npz)."""
    from lowranklab.lowrank import LowRank

    res.factors = tuple(to_numpy(F) for F in res.factors)
    res.theta = to_numpy(res.theta)
    X = res.X
    if isinstance(X, LowRank):
        res.X = LowRank(to_numpy(X.L), to_numpy(X.R))
    return res

def solve_with(solver: str, objective, theta0: np.ndarray, *, noise: float | None,
               rng: np.random.Generator, step: float | None, max_iter: int, tol: float | None,
               gtol: float | None, truth, progress: bool) -> Result:
    """`--solver noisy-gd|perturbed-gd` (noise: ε of Ge et al. 2015 or the ball radius of
    Jin et al. 2017; default 1e-3). perturbed-gd uses gtol as its g_thres (default 1e-8)."""
    from lowranklab.solvers.noisy import noisy_gradient_descent, perturbed_gradient_descent

    radius = 1e-3 if noise is None else float(noise)
    if solver == "noisy-gd":
        return noisy_gradient_descent(objective, theta0, noise=radius, rng=rng, step=step,
                                      max_iter=max_iter, tol=tol, gtol=gtol, truth=truth,
                                      progress=progress)
    if solver == "perturbed-gd":
        return perturbed_gradient_descent(objective, theta0, rng=rng, radius=radius,
                                          g_thres=1e-8 if gtol is None else gtol, step=step,
                                          max_iter=max_iter, tol=tol, truth=truth,
                                          progress=progress)
    raise ValueError(f"unknown solver {solver!r}")


def solve_factored(problem, *, model: str, rank: int, mu: float, solver: str, init: str,
                   init_norm: float, init_rank: int | None, init_from: Path | None,
                   step: float | None, line_search: str | None, max_iter: int,
                   noise: float | None,
                   tol: float | None, gtol: float | None, seed: int, progress: bool,
                   convert=None) -> tuple[Result, dict[str, np.ndarray]]:
    """gd / noisy-gd / perturbed-gd on f(UUᵀ) (model "sym") or f(UVᵀ) + μ/4‖UᵀU − VᵀV‖²
    (model "asym", zhu2021 eq. (8)), f = ½‖A(X) − b‖²."""
    from lowranklab.models import BalancedFactor, SymmetricFactor
    from lowranklab.models.init import initialize
    from lowranklab.objective import Objective
    from lowranklab.solvers import gradient_descent

    d1, d2 = problem.shape
    max_rank = d1 if model == "sym" else min(d1, d2)
    if not 1 <= rank <= max_rank:
        raise ValueError(f"--rank must be in [1, {max_rank}] for a {d1}×{d2} problem, "
                         f"got {rank}")
    if model == "sym":
        if d1 != d2:
            raise ValueError(f"--model sym needs a square problem, got {d1}×{d2}")
        par = SymmetricFactor(d1, rank)
    else:
        par = BalancedFactor(d1, d2, rank, mu=mu)
    rng = np.random.default_rng(seed)
    if init_from is not None:
        theta0 = theta_from_result(init_from, par)
    else:
        theta0 = initialize(par, init, rng, norm=init_norm, rank=init_rank, op=problem.op,
                            b=problem.b)
    obj = Objective(problem.loss(), par)
    if convert is not None:  # --backend / --dtype: the iterates live there
        theta0 = convert(theta0)
        if isinstance(theta0, np.ndarray) and theta0.dtype == np.float32:  # NumPy float32
            par = type(par)(*_model_args(par), dtype="float32")
            obj = Objective(float32_loss(problem), par)
    if solver in ("gd", "scaled-gd", "lbfgs"):
        tol = "auto" if tol is None and gtol is None else tol  # the engine's default stop
        direction = {"gd": "gradient", "scaled-gd": "scaled", "lbfgs": "lbfgs"}[solver]
        exact = solver != "gd" and step is None and line_search is None
        res = gradient_descent(obj, theta0, step=step,
                               line_search="exact" if exact else line_search,
                               direction=direction,
                               max_iter=max_iter, tol=tol, gtol=gtol, truth=problem.truth,
                               progress=progress)
    else:
        res = solve_with(solver, obj, theta0, noise=noise, rng=rng, step=step,
                         max_iter=max_iter, tol=tol, gtol=gtol, truth=problem.truth,
                         progress=progress)
    res = numpy_result(res)
    return res, dict(zip(("U", "V"), res.factors, strict=False))


def float32_loss(problem):
    """½‖A(X) − b‖² with A and b stored in float32 (dense A cast once; index operators as
    they are), so NumPy float32 iterates are not upcast."""
    from lowranklab.operators.dense import DenseSensing
    from lowranklab.problems.loss import LeastSquares

    op = problem.op
    if isinstance(op, DenseSensing):
        op = DenseSensing(op.A, op.shape_in, dtype="float32")
    return LeastSquares(op, problem.b, dtype="float32")


def _model_args(par) -> tuple:
    from lowranklab.models import BalancedFactor

    return (par.d1, par.d2, par.r, par.mu) if isinstance(par, BalancedFactor) else (par.d, par.p)


def solve_problem(problem, rank: int, *, step_rule: str = "fixed", init: str = "spectral",
                  init_norm: float = 1e-3, step: float | None = None,
                  direction: str = "gradient",
                  line_search: str = "constant", max_iter: int = 1000,
                  tol: float | None = None, gtol: float | None = None, seed: int = 0,
                  progress: bool = False, convert=None) -> tuple[Result, dict[str, np.ndarray]]:
    """`--model fixed-rank --solver rgd`: Riemannian GD (hou2021 §4–5) on the fixed-rank
    manifold (PSD when the problem is symmetric) for ½‖A(X) − b‖². Returns the result and
    the factors {"U", "S" (vector), "V"} to store in RESULT.npz. Without a step and with
    the constant rule it uses the exact step along the gradient (line_search="exact"): the
    constant 1/p step for completion is unstable near the sampling threshold."""
    from lowranklab.models.fixed_rank import manifold_for
    from lowranklab.models.init import initial_point
    from lowranklab.solvers.riemannian import riemannian_gradient_descent

    if step is None and line_search == "constant":
        line_search = "exact"
    d1, d2 = problem.shape
    if int(rank) != rank or not 1 <= rank <= min(d1, d2):
        raise ValueError(f"--rank must be in [1, {min(d1, d2)}] for a {d1}×{d2} problem, "
                         f"got {rank}")
    man = manifold_for(problem.shape, int(rank), symmetric=bool(problem.symmetric))
    rng = np.random.default_rng(seed)
    x0 = initial_point(man, init, rng, norm=init_norm, op=problem.op, b=problem.b)
    loss = problem.loss()
    if convert is not None:  # --backend / --dtype
        x0 = man.point(convert(x0.U), convert(x0.S), convert(x0.V))
        if isinstance(x0.U, np.ndarray) and x0.U.dtype == np.float32:
            loss = float32_loss(problem)
    tol = "auto" if tol is None and gtol is None else tol  # the engine's default stop
    res = riemannian_gradient_descent(loss, man, x0, step=step, step_rule=step_rule,
                                      line_search=line_search, direction=direction,
                                      max_iter=max_iter, tol=tol,
                                      gtol=gtol, truth=problem.truth, progress=progress)
    res = numpy_result(res)
    U, S, V = res.factors
    return res, {"U": U, "S": S, "V": V}


def solve_problem_glrl(problem, *, epsilon: float = 1e-7, step: float | None = None,
                       max_rank: int | None = None, max_iter: int | None = None,
                       gtol: float | None = None, progress: bool = False
                       ) -> tuple[Result, np.ndarray]:
    """GLRL (glrl2021 Algorithm 1) on a saved `Problem`: f = ½‖A(X) − b‖², used through
    sym(∇f), on completion (sparse, no dense d×d array) or dense sensing. gtol defaults to
    1e-10·max(1, λ₁(−∇f(0))). Returns the Result (trace with `test_error`/`rel_error` when
    the problem has a truth) and the final factor U."""
    from lowranklab.lowrank import LowRank, fro_norm
    from lowranklab.solvers.greedy import glrl, top_eigenpairs

    d1, d2 = problem.shape
    if d1 != d2:
        raise ValueError(f"--solver glrl needs a square problem, got {d1}×{d2}")
    loss = problem.loss()
    if gtol is None:
        lam = top_eigenpairs(loss.grad(LowRank(np.zeros((d1, 1)), np.zeros((d1, 1)))), 1)[0]
        gtol = 1e-10 * max(1.0, float(lam[0]))
    res = glrl(loss, epsilon=epsilon, step=step, max_rank=max_rank,
               max_iter=10**6 if max_iter is None else max_iter, gtol=gtol,
               truth=problem.truth, progress=progress)
    if problem.truth is not None and "test_error" in res.trace:
        nt = fro_norm(problem.truth)
        res.trace.columns["rel_error"] = [float(np.sqrt(v) / nt)
                                          for v in res.trace.columns["test_error"]]
    return res, res.theta.reshape(d1, -1)


# ---------------------------------------------------------------------------------------------
# `lowranklab solve`: every option checked against the solver before any work starts

FACTORED = ("gd", "scaled-gd", "lbfgs", "noisy-gd", "perturbed-gd")
MIN_NORM = ("merit", "merit-euler", "merit-bfgs")
MODELS = {"gd": ("sym", "asym"), "scaled-gd": ("sym", "asym"), "lbfgs": ("sym", "asym"),
          "noisy-gd": ("sym", "asym"),
          "perturbed-gd": ("sym", "asym"), "rgd": ("fixed-rank",), "rcg": ("fixed-rank",),
          "glrl": ("sym",),
          "merit": ("sym",), "merit-euler": ("sym",), "merit-bfgs": ("sym",), "sdp": ("sym",),
          "sdp-bm": ("sym",)}
INITS = {"gd": ("small", "rank", "identity", "spectral"), "rgd": ("small", "identity", "spectral"),
         "merit": ("small", "rank", "identity")}
LINE_SEARCHES = {"gd": ("constant", "armijo", "exact"), "rgd": ("constant", "armijo", "exact")}
STEP_RULES = ("fixed", "sigma")


def check_solve_options(*, problem: Path, out: Path, force: bool, model: str | None,
                        solver: str | None, rank: int | None, mu: float | None,
                        init: str | None, init_norm: float | None, init_rank: int | None,
                        init_from: Path | None, step: float | None, line_search: str | None,
                        step_rule: str | None, max_iter: int | None, noise: float | None,
                        gamma: float | None, epsilon: float | None, tol: float | None,
                        gtol: float | None, seed: int | None) -> tuple[str, str]:
    """Resolve (solver, model) and refuse every option that is out of range or does not apply
    to that solver (an option silently ignored is a wrong answer to the user). Files: the
    problem (and --init-from) must be readable, `out` writable and none of the inputs."""
    from lowranklab.cli import checks

    checks.input_file(problem, "PROBLEM")
    if init_from is not None:
        checks.input_file(init_from, "--init-from")
    checks.output_file(out, inputs=(problem, init_from), force=force)
    if solver is None:
        solver = "rcg" if model == "fixed-rank" else "gd"  # the measured fastest (README)
    if model is None:
        model = MODELS[solver][0]
    if model not in MODELS[solver]:
        raise ValueError(f"--model {model} does not apply to --solver {solver} "
                         f"(use --model {' or '.join(MODELS[solver])})")
    fam = ("gd" if solver in FACTORED else "merit" if solver in MIN_NORM
           else "rgd" if solver == "rcg" else solver)
    why = f"to --solver {solver}"
    if solver == "sdp":
        checks.not_given({"--rank": rank, "--init": init, "--init-norm": init_norm,
                          "--init-rank": init_rank, "--step": step, "--max-iter": max_iter,
                          "--seed": seed}, why)
    if solver == "sdp-bm":
        checks.not_given({"--init": init, "--init-norm": init_norm, "--init-rank": init_rank,
                          "--step": step, "--line-search": line_search, "--gtol": gtol,
                          "--mu": mu}, why + " (its own L-BFGS steps; --tol is the "
                                             "certificate tolerance)")
    if fam != "gd":
        checks.not_given({"--init-from": init_from, "--noise": noise}, why)
    if fam not in ("gd", "rgd", "sdp-bm"):
        checks.not_given({"--tol": tol}, why + " (merit: its own ‖ΔU‖ test; glrl: gtol)")
    if fam in ("merit", "sdp"):
        checks.not_given({"--gtol": gtol}, why)
    if fam != "merit":
        checks.not_given({"--gamma": gamma}, why)
    if solver == "merit-bfgs":
        checks.not_given({"--step": step}, why + " (L-BFGS-B chooses its steps)")
    if solver != "glrl":
        checks.not_given({"--epsilon": epsilon}, why)
    else:
        checks.not_given({"--init": init, "--init-norm": init_norm, "--init-rank": init_rank,
                          "--seed": seed}, why + " (its columns start at √ε·u, deterministic)")
    if solver not in ("noisy-gd", "perturbed-gd"):
        checks.not_given({"--noise": noise}, why)
    if fam != "rgd":
        checks.not_given({"--step-rule": step_rule}, why)
    if fam not in LINE_SEARCHES:
        checks.not_given({"--line-search": line_search}, why)
    elif line_search is not None and line_search not in LINE_SEARCHES[fam]:
        raise ValueError(f"--line-search must be one of {', '.join(LINE_SEARCHES[fam])} for "
                         f"--solver {solver}, got {line_search!r}")
    if solver in ("noisy-gd", "perturbed-gd"):
        checks.not_given({"--line-search": line_search}, why)
    if step_rule is not None and step_rule not in STEP_RULES:
        raise ValueError(f"--step-rule must be fixed or sigma, got {step_rule!r}")
    if model != "asym":
        checks.not_given({"--mu": mu}, f"to --model {model} (only asym has a balancing term)")
    if init is not None and fam in INITS and init not in INITS[fam]:
        raise ValueError(f"--init must be one of {', '.join(INITS[fam])} for --solver "
                         f"{solver}, got {init!r}")
    if init_from is not None:
        checks.not_given({"--init": init, "--init-norm": init_norm, "--init-rank": init_rank},
                         "together with --init-from")
    if init == "spectral":
        checks.not_given({"--init-norm": init_norm}, "to --init spectral (its scale is fitted)")
    if init_rank is not None and init != "rank":
        raise ValueError("--init-rank applies to --init rank only")
    if init == "rank" and init_rank is None:
        raise ValueError("--init rank needs --init-rank K")
    if init_rank is not None and not 1 <= init_rank <= (rank or 1):
        raise ValueError(f"--init-rank must be in [1, --rank = {rank or 1}], got {init_rank}")
    if rank is not None and rank < 1:
        raise ValueError(f"--rank must be >= 1, got {rank}")
    if max_iter is not None and max_iter < 0:
        raise ValueError(f"--max-iter must be >= 0, got {max_iter}")
    if seed is not None and seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    checks.number("--mu", mu, low=0)
    checks.number("--init-norm", init_norm, low=0, low_open=True)
    checks.number("--step", step, low=0, low_open=True)
    checks.number("--noise", noise, low=0)
    checks.number("--gamma", gamma, low=0, low_open=True)
    checks.number("--epsilon", epsilon, low=0, low_open=True)
    checks.number("--tol", tol, low=0)
    checks.number("--gtol", gtol, low=0)
    return solver, model


def run_solve(problem: Path, out: Path, *, force: bool = False, model: str | None = None,
              solver: str | None = None, rank: int | None = None, mu: float | None = None,
              init: str | None = None, init_norm: float | None = None,
              init_rank: int | None = None, init_from: Path | None = None,
              step: float | None = None, line_search: str | None = None,
              step_rule: str | None = None, max_iter: int | None = None,
              noise: float | None = None, gamma: float | None = None,
              epsilon: float | None = None, tol: float | None = None,
              gtol: float | None = None, seed: int | None = None,
              backend: str | None = None, device: str | None = None,
              dtype: str | None = None, progress: bool = False) -> str:
    """`lowranklab solve`: check, load, solve, write RESULT.npz atomically; return the summary
    to print. ValueError for every bad input, raised before the solver starts."""
    from lowranklab.io import save_result
    from lowranklab.problems import Problem

    solver, model = check_solve_options(
        problem=problem, out=out, force=force, model=model, solver=solver, rank=rank, mu=mu,
        init=init, init_norm=init_norm, init_rank=init_rank, init_from=init_from, step=step,
        line_search=line_search, step_rule=step_rule, max_iter=max_iter, noise=noise,
        gamma=gamma, epsilon=epsilon, tol=tol, gtol=gtol, seed=seed)
    convert = check_arrays(backend, device, dtype, solver)
    seed = 0 if seed is None else seed
    if solver == "sdp-bm":  # min ⟨C, X⟩ s.t. A(X) = b, X ⪰ 0 (C from the file, default I)
        from lowranklab.cli.sdp_bm import solve_sdp_bm

        return solve_sdp_bm(problem, out, rank=rank, tol=tol, max_iter=max_iter, seed=seed,
                            progress=progress)
    if solver in MIN_NORM or solver == "sdp":  # min ‖U‖²_F s.t. A(UUᵀ) = b
        from lowranklab.cli.min_norm import solve_min_norm

        return solve_min_norm(problem, out, solver=solver, rank=1 if rank is None else rank,
                              gamma=gamma, step=step, max_iter=max_iter, init=init or "small",
                              init_norm=init_norm, init_rank=init_rank, seed=seed,
                              progress=progress)
    P = Problem.load(problem)
    d1, d2 = P.shape
    if rank is not None and rank > (d1 if model == "sym" else min(d1, d2)):
        raise ValueError(f"--rank must be in [1, {d1 if model == 'sym' else min(d1, d2)}] for "
                         f"a {d1}×{d2} problem, got {rank}")
    if model == "sym" and d1 != d2:
        raise ValueError(f"--model sym needs a square problem, got {d1}×{d2}")
    if solver == "glrl":
        res, U = solve_problem_glrl(P, epsilon=1e-7 if epsilon is None else epsilon, step=step,
                                    max_rank=rank, max_iter=max_iter, gtol=gtol,
                                    progress=progress)
        factors = {"U": U}
    elif solver in ("rgd", "rcg"):
        res, factors = solve_problem(P, 1 if rank is None else rank,
                                     direction="cg" if solver == "rcg" else "gradient",
                                     step_rule=step_rule or "fixed", init=init or "small",
                                     init_norm=1e-3 if init_norm is None else init_norm,
                                     step=step, line_search=line_search or "constant",
                                     max_iter=1000 if max_iter is None else max_iter, tol=tol,
                                     gtol=gtol, seed=seed, progress=progress, convert=convert)
    else:
        res, factors = solve_factored(
            P, model=model, rank=1 if rank is None else rank, mu=mu or 0.0, solver=solver,
            init=init or "small", init_norm=1e-3 if init_norm is None else init_norm,
            init_rank=init_rank, init_from=init_from, step=step,
            line_search=line_search,
            max_iter=1000 if max_iter is None else max_iter, noise=noise, tol=tol, gtol=gtol,
            seed=seed, progress=progress, convert=convert)
    save_result(out, res, model_name=model, factors=factors, mu=mu or 0.0)
    return str(res)

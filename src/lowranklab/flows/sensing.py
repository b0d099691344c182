"""The gradient flows of ez2021, integrated with scipy's `solve_ivp`:

    (flow), L137:  U̇ = −∇G(U) = −½ S(U) U        G = f/8
    eq. (1), L28:  U̇ = −∇f(U) = −4 S(U) U        f = ‖A(UUᵀ) − b‖²

with S(U) = A*(A(UUᵀ) − b). The two differ by the time change U₍₁₎(t) = U₍flow₎(8t), and GD (3)
with step η is forward Euler for eq. (1) with step η.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from lowranklab.problems.ez2021 import SymmetricSensing


def gradient_flow(inst: SymmetricSensing, U0: np.ndarray, t_eval: np.ndarray, *,
                  which: str = "flow", rtol: float = 1e-10, atol: float = 1e-13,
                  method: str = "RK45") -> tuple[np.ndarray, np.ndarray]:
    """Integrate (flow) (which="flow") or eq. (1) (which="eq1") from U₀; returns (t, U(t)) with
    U(t) of shape (len(t), d, p)."""
    if which not in ("flow", "eq1"):
        raise ValueError(f"which must be 'flow' or 'eq1', got {which!r}")
    U0 = np.asarray(U0, dtype=float)
    d, p = U0.shape
    c = 0.5 if which == "flow" else 4.0
    t_eval = np.asarray(t_eval, dtype=float)

    def rhs(_t: float, u: np.ndarray) -> np.ndarray:
        U = u.reshape(d, p)
        return (-c * inst.S(U) @ U).ravel()

    sol = solve_ivp(rhs, (float(t_eval[0]), float(t_eval[-1])), U0.ravel(), t_eval=t_eval,
                    rtol=rtol, atol=atol, method=method)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    return sol.t, sol.y.T.reshape(-1, d, p)

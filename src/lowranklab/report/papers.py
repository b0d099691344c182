"""The papers the report reproduces: title, authors, short name and what each shows."""

from __future__ import annotations

PAPERS: dict[str, dict[str, str]] = {
    "eftekhari2021": {
        "short": "Eftekhari",
        "title": "Over-parametrized matrix factorization in the presence of spurious "
                 "stationary points",
        "authors": "Armin Eftekhari",
        "shows": "min ‖U‖²_F subject to A(UUᵀ) = b: over-parametrized factorizations have "
                 "spurious stationary points, yet the SDP relaxation, its dual certificate and "
                 "the primal-dual flow on Fletcher's merit function (Algorithm 1) reach the "
                 "global minimizer; gradient flow without the explicit ‖U‖²_F does not.",
    },
    "ez2021": {
        "short": "Eftekhari & Zygalakis",
        "title": "Limitations of implicit bias in matrix sensing: initialization rank matters",
        "authors": "Armin Eftekhari and Konstantinos Zygalakis",
        "shows": "Gradient descent for matrix sensing is implicitly biased towards the "
                 "low-rank truth only from a low-rank (or tiny) initialization: a high-rank "
                 "initialization fits the data without recovering X♮; a restart scheme "
                 "(Algorithm 1) fixes it.",
    },
    "zhu2021": {
        "short": "Zhu, Li, Tang & Wakin",
        "title": "The global optimization geometry of low-rank matrix optimization",
        "authors": "Zhihui Zhu, Qiuwei Li, Gongguo Tang and Michael B. Wakin",
        "shows": "For the balanced factorization UVᵀ with the μ/4‖UᵀU − VᵀV‖²_F regularizer "
                 "every critical point is a global minimum or a strict saddle (with explicit "
                 "region constants), for matrix factorization and for restricted-well-"
                 "conditioned losses; noisy and plain GD escape the saddles.",
    },
    "hou2021": {
        "short": "Hou, Li & Zhang",
        "title": "Asymptotic escape of spurious critical points on the low-rank matrix "
                 "manifold",
        "authors": "Thomas Y. Hou, Zhenzhen Li and Ziyun Zhang",
        "shows": "Riemannian gradient descent on the fixed-rank manifold M_r escapes the "
                 "spurious critical points on its boundary almost surely, with a fixed or a "
                 "σ_r-scaled step, and σ_r(Z_k) stays away from 0 in practice; the rescaled "
                 "gradient flow explains the escape.",
    },
    "glrl2021": {
        "short": "Li, Luo & Lyu",
        "title": "Towards resolving the implicit bias of gradient descent for matrix "
                 "factorization: greedy low-rank learning",
        "authors": "Zhiyuan Li, Yuping Luo and Kaifeng Lyu",
        "shows": "Gradient descent from an infinitesimal initialization follows greedy low-"
                 "rank learning (GLRL) rank by rank, which can differ from the minimum nuclear "
                 "norm solution (a counterexample to the nuclear-norm conjecture); depth ≥ 3 "
                 "makes the trajectory follow GLRL more closely.",
    },
    "demo": {
        "short": "lowranklab",
        "title": "lowranklab demo: matrix completion end to end",
        "authors": "",
        "shows": "The library's own smoke test: a planted low-rank matrix completed from a "
                 "fraction of its entries.",
    },
}

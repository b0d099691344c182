"""zhu2021 — Zhu, Li, Tang & Wakin, *The global optimization geometry of low-rank matrix
optimization*: Fig. 1 (weighted PCA) and the numerical evidence E1–E9 for its theorems
(seed002 spec §3). One experiment per module; shared helpers in `_common`."""

"""Continuous-time dynamics the papers analyse, integrated by SciPy's ODE solvers: the gradient
flow of ez2021 (`sensing`), glrl2021's flows (2), (11), (12), (19) and their Jacobians
(`glrl`), hou2021's dynamical low-rank flows (`dlra`), and distances of a trajectory to a
polyline (`trajectory`). The iterative solvers live in `lowranklab.solvers`."""

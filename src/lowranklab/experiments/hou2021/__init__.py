"""Experiments of Hou, Li & Zhang (2021), "Asymptotic escape of spurious critical points on
the low-rank matrix manifold": Example 1.1, Fig. 1–3 and two proposed extras (spec §3)."""

"""glrl2021 — Li, Luo & Lyu, "Towards resolving the implicit bias of gradient descent for matrix
factorization: greedy low-rank learning" (ICLR 2021): the counter-example and Figures 1–7."""

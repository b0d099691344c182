"""Eftekhari & Zygalakis (2021), "Limitations of implicit bias in matrix sensing: initialization
rank matters": Figures 1–3 (GD (3) from low- vs high-rank initializations at three norms),
Figure 4 (the toy set M_b) and Figure 5 (Algorithm 1 against plain GD)."""

PAPER = "ez2021"
CITATION = "Eftekhari & Zygalakis (2021)"

"""Eftekhari (2021), "Over-parametrized matrix factorization in the presence of spurious
stationary points": Figure 1 (the SSP trap, p = 1 vs p = 2), Figure 2 (implicit vs explicit
regularisation) and Figure 3 (Algorithm 1 from three initialisations, Sec. XII)."""

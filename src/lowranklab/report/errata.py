"""Typos and errors found in the papers (and the specs' readings of them) while implementing
them; the library implements the corrected forms. Source: ../shared/specs, each paper's errata
section (seed000 §1.10, seed001 §7, seed002 §5, seed003 §6, seed004 §6).

Each row: (where, what the paper says, what is correct / what the library does).
"""

from __future__ import annotations

ERRATA: dict[str, list[tuple[str, str, str]]] = {
    "eftekhari2021": [
        ("Supplementary (49)–(51)", "DK(U)[Δ] = 2[⟨A_iΔ, A_jU⟩]",
         "K̃ + K̃ᵀ unless the A_i commute; the printed (51) is off by 0.69 relative on a random "
         "instance, the corrected one agrees with finite differences to 1e-9"),
    ],
    "ez2021": [
        ("Lemma F.2 / E.1", "the bound with max(·)", "false (counterexample); the min(·) "
         "version holds"),
        ("Appendix A", "{A_iU} a.s. linearly independent for fixed U",
         "only if rank(U) ≥ k* with k*d − k*(k*−1)/2 ≥ m; Assumption 3.1(i) should read "
         "m ≤ rd − r(r−1)/2"),
        ("eq. (8)", "−ξ", "−ξ²"),
        ("Assumption 3.1(iii)", "for every PSD matrix X", "for every symmetric X"),
        ("Example 1.1 (Fig. 3)", "η = 1e-4 for every run", "diverges at ‖U₀‖_F = 10³; the "
         "library uses the η(ρ) rule (the claim row paper_eta_diverges shows it)"),
        ("Algorithm 1", "mod(k, W) = 1 at k = 1; U_{k+1} written twice; no cap on restarts",
         "restart test from k = W; one update per iteration; a restart cap"),
    ],
    "zhu2021": [
        ("eq. (7)", "b' = 2a/(a + b)", "2b/(a + b)"),
        ("proof of the region bounds", "WWᵀ − W★W★ᵀ = ½Q(Λ − Σ)Qᵀ", "the factor is 2"),
    ],
    "hou2021": [
        ("Lemma 2.1(3)", "complex general dim = (2m + 2n − r)r", "2(m + n − r)r (real)"),
        ("Lemma 3.5, ψ cases (2), (3)", "+d_i⁻¹p_ip_r*, +d_j⁻¹p_rp_j*", "with minus signs"),
        ("Lemma 3.6 proof", "(I − P⊥_{U₁} − P⊥_{U₃})", "(I − P_{U₁} − P_{U₃})"),
        ("eq. (5)", "ŨNΣ⁻¹U_z*", "ŨNᵀΣ⁻¹U_zᵀ (and its transpose)"),
        ("Lemma 4.1 proof", "eigenvalue 1 + 2αD₂", "1 + αd_k (used by hou2021.escape_time)"),
        ("Lemma 3.4", "critical points of (DLRA*) = those of (DLRA)",
         "only for trajectories from M_r; (DLRA*) has extra boundary equilibria"),
    ],
    "glrl2021": [
        ("§5 prose", "u_r top eigenvector of −∇f(W_r)", "−∇f(W_{r−1})"),
        ("Def. 5.1", "top eigenvector of ∇f(W̄_{r−1,ε})", "of −∇f"),
        ("Ex. 5.9 / App. B", "‖M_norm‖_* = 2R² + 2; λ(A) = (1 ± √(1 + R²))/2",
         "‖M_rank‖_* = 2R² + 2; λ(A) = (1 ± √(1 + 4R²))/2"),
        ("Lemma 5.4, Thm F.5", "antisymmetric directions have eigenvalue 0",
         "true on S_d only, which is what the proofs use"),
        ("eq. (18)", "ẋ = (1 − x²)x − 2y(xy − R)", "ẋ = (1 − x²)x − (xy − R)y"),
        ("eq. (32)", "the R = W^{1/L} ODE reproduces (31)", "only for odd L; (12) holds "
         "for all L"),
        ("App. J.2 / Lemma J.2", "∇f(0) = diag(2, 0.9, …, 0.1)", "−∇f(0); "
         "M_ii⁻¹(t) = M_ii⁻¹(0) − 2q_it"),
        ("Cor. D.2", "denominator", "ln σ_i² − ln σ_j²"),
        ("App. C.1", "‖S‖_F = 1", "conflicts with ‖W*‖_F = 20 (scale by d)"),
        ("App. D (Fig. 6)", "'deeper models converge faster'", "in normalised time tL the "
         "first drop comes later as L grows (observation deeper_not_faster)"),
    ],
}

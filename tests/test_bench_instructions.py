"""benchmarks/engine_instructions.py: its cachegrind parsing and the grouping of functions by
where they run (the valgrind runs themselves are not part of the test suite)."""

from __future__ import annotations

import numpy as np

from benchmarks.engine import old_sensing_loop
from benchmarks.engine_instructions import counts, place
from lowranklab.problems.ez2021 import example_instance


def test_place_groups_functions_by_library():
    assert place("???", "dgemv_kernel_4x4") == "blas"
    assert place("???", "dgemm_kernel_HASWELL") == "blas"
    assert place("???", "cblas_ddot") == "blas"
    assert place("???", "PyArray_TakeFrom") == "numpy and scipy"
    assert place("???", "DOUBLE_multiply_X86_V3") == "numpy and scipy"
    assert place("/tmp/b/Python-3.11.7/Python/ceval.c", "_PyEval_EvalFrameDefault") == "python"
    assert place("/tmp/b/Python-3.11.7/Objects/dictobject.c", "insertdict") == "python"
    assert place("./string/../sysdeps/x86_64/multiarch/memset.S", "__memset_avx2") == "libc"
    assert place("???", "_int_malloc") == "libc"


def test_counts_sums_instructions_per_function(tmp_path):
    f = tmp_path / "cg.out"
    f.write_text("events: Ir\nfl=???\nfn=dgemv_kernel_4x4\n10 100\n11 50\n"
                 "fl=/x/Python-3.11/Python/ceval.c\nfn=_PyEval_EvalFrameDefault\n5 7\n"
                 "fl=???\nfn=dgemv_kernel_4x4\n12 1\nsummary: 158\n")
    c = counts(str(f))
    assert c[("???", "dgemv_kernel_4x4")] == 151
    assert c[("/x/Python-3.11/Python/ceval.c", "_PyEval_EvalFrameDefault")] == 7
    assert sum(c.values()) == 158  # the file's own summary line


def test_dedicated_loop_runs_zero_iterations():
    """The instruction count subtracts a 0-iteration run, which must not fail."""
    inst = example_instance(6, 1, 24, np.random.default_rng(0))
    U0 = np.full((6, 6), 1e-3)
    F, test = old_sensing_loop(inst, U0, 1e-4, 0)
    assert F is U0 and np.isnan(test)
    F, test = old_sensing_loop(inst, U0, 1e-4, 3)
    assert F.shape == (6, 6) and np.isfinite(test)

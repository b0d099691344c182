"""Which array library an array comes from, and the float dtypes the library honours.

lowranklab computes on NumPy arrays by default and on PyTorch tensors (CPU or CUDA) when the
caller passes tensors: the backend is chosen by the arrays passed in, never by a global switch.
Code that must work on both asks `namespace(x)` for the module to call: plain `numpy` for NumPy
arrays (so the NumPy paths run exactly the code they always ran), and the `array-api-compat`
wrapper of `torch` (`array_api_compat.torch`) for tensors. torch is never imported here: a
tensor can only exist once the caller has imported torch, so `is_torch` looks in
`sys.modules` and costs one dictionary lookup on NumPy-only runs.

dtype: float64 is the default everywhere; float32 is kept wherever the caller asks for it,
either by passing float32 data or with a `dtype=` argument, and never silently upcast.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def is_torch(x: object) -> bool:
    """True when x is a torch.Tensor or a `CSRPair` of them (False, without importing torch,
    when torch is unused)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, (torch.Tensor, CSRPair))


def namespace(*arrays: object) -> ModuleType:
    """The array namespace to compute with: `numpy` unless one of `arrays` is a torch tensor,
    then `array_api_compat.torch` (the array-API view of torch)."""
    for x in arrays:
        if is_torch(x):
            import array_api_compat

            return array_api_compat.array_namespace(x)
    return np


def resolve_dtype(dtype: object, name: str = "dtype") -> np.dtype | None:
    """np.float64 / np.float32 from a dtype-like ("float32", np.float32, torch.float32, ...);
    None stays None (meaning "keep the data's own float dtype, float64 for anything else")."""
    if dtype is None:
        return None
    if is_torch(dtype) or type(dtype).__module__ == "torch":
        dtype = str(dtype).removeprefix("torch.")
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"{name} must be float32 or float64, got {dtype!r}") from e
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"{name} must be float32 or float64, got {dtype!r}")
    return dt


def float_dtype(x: np.ndarray, dtype: object = None, name: str = "dtype") -> np.dtype:
    """The float dtype to store x in: `dtype` when given, else x's own dtype when it is float32
    or float64, else float64 (integers, bools, float16, ...)."""
    dt = resolve_dtype(dtype, name)
    if dt is not None:
        return dt
    return x.dtype if x.dtype in FLOAT_DTYPES else np.dtype(np.float64)


def as_float_array(x: object) -> np.ndarray:
    """np.asarray(x) with float32/float64 kept and anything else converted to float64 (no copy
    when x already is a float32/float64 ndarray)."""
    x = np.asarray(x)
    return x if x.dtype in FLOAT_DTYPES else x.astype(np.float64)


def to_like(arr: np.ndarray, like: object) -> object:
    """A NumPy array copied once onto the backend, device and float dtype of the tensor `like`
    (integer arrays become int64 tensors). For caching by the caller, not for inner loops."""
    import torch

    dt = torch.int64 if arr.dtype.kind in "iub" else like.dtype
    return torch.as_tensor(np.ascontiguousarray(arr)).to(device=like.device, dtype=dt)


def cached_like(cache: dict, name: str, arr: np.ndarray, like: object) -> object:
    """`arr` on like's backend: itself for NumPy `like`, else a copy on like's device and
    dtype made once and kept in `cache` under (name, device, dtype) — an operator's data on
    the solver's device, never copied again inside a loop."""
    if not is_torch(like):
        return arr
    key = (name, str(like.device), like.dtype)
    t = cache.get(key)
    if t is None:
        t = cache[key] = to_like(arr, like)
    return t


def torch_float_dtype(dtype: object) -> object:
    """The torch dtype of a float dtype-like (np.float32 -> torch.float32)."""
    import torch

    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[
        resolve_dtype(dtype) or np.dtype(np.float64)]


def require_numpy(x, who: str) -> None:
    """A clear TypeError for solvers written for NumPy only, before any work."""
    if is_torch(x):
        raise TypeError(f"{who} runs on NumPy arrays only, got a torch tensor; the torch "
                        "backend runs gradient_descent (constant, Armijo, exact, ScaledGD), "
                        "noisy/perturbed GD, riemannian_gradient_descent and glrl")


def vdot(u, v) -> float:
    """⟨u, v⟩ as a Python float, on either backend (no copy to NumPy for tensors)."""
    if is_torch(u):
        return float((u * v).sum())
    return float(np.vdot(u, v))


def all_finite(x) -> bool:
    return bool(x.isfinite().all()) if is_torch(x) else bool(np.all(np.isfinite(x)))


def copy(x):
    """An independent copy on x's backend."""
    return x.clone() if is_torch(x) else np.array(x, copy=True)


def concat(arrays: list, axis: int = 0):
    """Join arrays of one backend along `axis` (np.concatenate / torch.cat)."""
    if is_torch(arrays[0]):
        import torch

        return torch.cat(arrays, dim=axis)
    return np.concatenate(arrays, axis=axis)


def zeros(shape: tuple[int, ...], like: object):
    """Zeros of `shape` on like's backend, device and dtype."""
    if is_torch(like):
        return like.new_zeros(shape)
    return np.zeros(shape, dtype=like.dtype)


def empty(shape: tuple[int, ...], like: object):
    """An uninitialised array of `shape` on like's backend, device and dtype."""
    if is_torch(like):
        return like.new_empty(shape)
    return np.empty(shape, dtype=like.dtype)


def eye(n: int, like: object):
    """The n×n identity on like's backend, device and dtype."""
    if is_torch(like):
        import torch

        return torch.eye(n, dtype=like.dtype, device=like.device)
    return np.eye(n, dtype=like.dtype)


class CSRPair:
    """A sparse matrix G on torch held as the CSR tensors of G and of Gᵀ, so that both G Z
    and Gᵀ Z are CSR-times-dense products: torch's own transpose of a CSR tensor is a CSC
    tensor, whose products are some 50× slower on CPU (measured: 86 ms against 1.9 ms at
    n = 5000, |Ω| = 5·10⁵, r = 10) and not available for every device and dtype.

    Behaves as the torch sparse matrix G where lowranklab uses one: `G @ Z`, `G.mT` / `G.T`
    (the pair swapped, Gᵀ built on first use by `make_transpose()`), `to_dense()`, `shape`,
    `dtype`, `device`, `layout`."""

    def __init__(self, G, make_transpose, GT=None) -> None:
        self._G = G
        self._make_transpose = make_transpose
        self._GT = GT

    def __matmul__(self, Z):
        return self._G @ Z

    @property
    def mT(self) -> CSRPair:
        if self._GT is None:
            self._GT = self._make_transpose()
        return CSRPair(self._GT, lambda: self._G, self._G)

    T = mT

    def to_dense(self):
        return self._G.to_dense()

    @property
    def shape(self):
        return self._G.shape

    @property
    def dtype(self):
        return self._G.dtype

    @property
    def device(self):
        return self._G.device

    @property
    def layout(self):
        return self._G.layout

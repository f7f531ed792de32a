"""Loads libExpertPlacementC (the library's C API, ``expert_placement.h``) with ctypes.

The shared library is looked up, in order, at ``$EXPERT_PLACEMENT_LIBRARY`` and next to this file
(where ``pip install`` puts it). Every function is declared with its exact C signature, so a
wrong argument type fails in Python instead of corrupting memory.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

ABI_VERSION = 1

#: Return codes of the C API (expert_placement.h).
EP_OK = 0
EP_INVALID_ARGUMENT = 1
EP_INFEASIBLE = 2
EP_INVALID_PLACEMENT = 3
EP_INTERNAL_ERROR = 4

_LIBRARY_NAME = "libExpertPlacementC.so"


class PlacementError(ValueError):
    """A call into the library could not run; ``code`` is the C API's return code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class InfeasibleError(PlacementError):
    """The instance admits no valid placement, or the method cannot handle it."""


class InvalidPlacementError(PlacementError):
    """A placement breaks one of the rules a serving worker enforces."""


def _locate() -> Path:
    override = os.environ.get("EXPERT_PLACEMENT_LIBRARY")
    if override:
        path = Path(override)
        if not path.is_file():
            raise ImportError(f"EXPERT_PLACEMENT_LIBRARY={override}: no such file")
        return path
    path = Path(__file__).with_name(_LIBRARY_NAME)
    if not path.is_file():
        raise ImportError(
            f"{_LIBRARY_NAME} is missing from {path.parent}: reinstall with `pip install ./python` "
            "from a clone of ExpertPlacement (it builds the library with Swift), or point "
            "EXPERT_PLACEMENT_LIBRARY at a built libExpertPlacementC.so"
        )
    return path


_f64p = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
_i64p = np.ctypeslib.ndpointer(dtype=np.int64, flags="C_CONTIGUOUS")
_i64 = ctypes.c_int64
_i32 = ctypes.c_int32
_f64 = ctypes.c_double
_str = ctypes.c_char_p


class _Nullable:
    """An ndpointer that also accepts ``None`` (passed as NULL)."""

    def __init__(self, base):
        self._base = base

    def from_param(self, value):
        if value is None:
            return None
        return self._base.from_param(value)


def _load():
    lib = ctypes.CDLL(str(_locate()))
    lib.ep_abi_version.restype = _i32
    lib.ep_abi_version.argtypes = []
    lib.ep_version.restype = _str
    lib.ep_version.argtypes = []
    f64n, i64n = _Nullable(_f64p), _Nullable(_i64p)
    lib.ep_solve.restype = _i32
    lib.ep_solve.argtypes = [
        _f64p, _i64, _i64, _i64, _i32,  # loads, L, T, E, episodes_first
        _i64, _i64, _i64, _i64,  # devices, slots, nodes, groups
        _str, _str, _f64, _i32,  # method, objective, time limit, threads
        i64n, _f64, _i64,  # current, move cost, max moves
        _i64p, i64n, i64n, _i64,  # phy2log, logcnt, log2phy, width
        f64n, f64n,  # layer stats, wall seconds
        ctypes.c_char_p, _i64,  # message
    ]
    lib.ep_rebalance.restype = _i32
    lib.ep_rebalance.argtypes = [
        _f64p, _i64, _i64, _i64, _i32,
        _i64, _i64, _i64, _i64,
        _str, _str, _f64, _i32,
        _i64p, _f64, _i64,  # current (required), move cost, max moves
        f64n, _f64, _f64, _f64, _i64,  # recorded, threshold, relative, min gain, max layers
        _i64p, i64n, i64n, f64n, f64n, f64n, f64n,  # phy2log, priority, moves, before, after, recorded out, seconds
        ctypes.c_char_p, _i64,
    ]
    lib.ep_evaluate.restype = _i32
    lib.ep_evaluate.argtypes = [_f64p, _i64, _i64, _i64, _i32, _i64, _i64, _i64p, _f64p, ctypes.c_char_p, _i64]
    lib.ep_validate.restype = _i32
    lib.ep_validate.argtypes = [_i64p, _i64, _i64, _i64, _i64, i64n, ctypes.c_char_p, _i64]
    found = lib.ep_abi_version()
    if found != ABI_VERSION:
        raise ImportError(f"{_LIBRARY_NAME} has C ABI version {found}, this package needs {ABI_VERSION}: reinstall")
    return lib


lib = _load()


def message_buffer():
    return ctypes.create_string_buffer(512)


def check(code: int, buffer) -> None:
    """Raises the exception matching a C API return code."""
    if code == EP_OK:
        return
    text = buffer.value.decode("utf-8", "replace") or f"error code {code}"
    if code == EP_INFEASIBLE:
        raise InfeasibleError(code, text)
    if code == EP_INVALID_PLACEMENT:
        raise InvalidPlacementError(code, text)
    raise PlacementError(code, text)

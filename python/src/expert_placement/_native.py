"""Loads the library's C API with ctypes: the forecasting superset when it loads, else the plain one.

Two shared libraries may sit beside this file (``pip install`` builds and puts both there):

- ``libExpertPlacementForecastC.so``: every function of ``expert_placement.h`` plus forecasting and
  planned rebalancing (``expert_placement_forecast.h``). It links LAPACKE (``liblapacke.so.3``,
  Debian's ``liblapacke``) at run time.
- ``libExpertPlacementC.so``: the plain C API, with no dependency beyond libc and the C++ runtime.

Only one of them is ever loaded in a process (each carries its own Swift runtime): the superset
when it is present and loads, else the plain library, and :data:`forecasting_error` records why the
superset was not used. Overrides: ``$EXPERT_PLACEMENT_FORECAST_LIBRARY`` (the superset; when it is
set but does not load, the plain library is used) and ``$EXPERT_PLACEMENT_LIBRARY`` (the plain
library; when it is set without the other, the plain library is used). Every function is declared
with its exact C signature, so a wrong argument type fails in Python instead of corrupting memory.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

ABI_VERSION = 1
FORECAST_ABI_VERSION = 1

#: Return codes of the C API (expert_placement.h).
EP_OK = 0
EP_INVALID_ARGUMENT = 1
EP_INFEASIBLE = 2
EP_INVALID_PLACEMENT = 3
EP_INTERNAL_ERROR = 4

#: Values per layer in ep_forecast's diagnostics (EP_FORECAST_DIAGNOSTICS).
FORECAST_DIAGNOSTICS = 6

_LIBRARY_NAME = "libExpertPlacementC.so"
_FORECAST_LIBRARY_NAME = "libExpertPlacementForecastC.so"


class PlacementError(ValueError):
    """A call into the library could not run; ``code`` is the C API's return code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class InfeasibleError(PlacementError):
    """The instance admits no valid placement, or the method cannot handle it."""


class InvalidPlacementError(PlacementError):
    """A placement breaks one of the rules a serving worker enforces."""


class ForecastingUnavailableError(RuntimeError):
    """Forecasting was asked for, but the forecasting library (libExpertPlacementForecastC) did not
    load; the message says why. It needs LAPACKE at run time: ``apt-get install liblapacke``."""


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


def _locate_forecasting() -> Tuple[Optional[Path], Optional[str]]:
    """The superset to try, or ``None`` and why there is none."""
    override = os.environ.get("EXPERT_PLACEMENT_FORECAST_LIBRARY")
    if override:
        path = Path(override)
        if not path.is_file():
            return None, f"EXPERT_PLACEMENT_FORECAST_LIBRARY={override}: no such file"
        return path, None
    if os.environ.get("EXPERT_PLACEMENT_LIBRARY"):
        return None, ("EXPERT_PLACEMENT_LIBRARY is set and EXPERT_PLACEMENT_FORECAST_LIBRARY is not: "
                      "point EXPERT_PLACEMENT_FORECAST_LIBRARY at a built libExpertPlacementForecastC.so")
    path = Path(__file__).with_name(_FORECAST_LIBRARY_NAME)
    if not path.is_file():
        return None, (f"{_FORECAST_LIBRARY_NAME} is missing from {path.parent}: reinstall with "
                      "`pip install ./python` on a machine with liblapacke-dev")
    return path, None


_f64p = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
_i64p = np.ctypeslib.ndpointer(dtype=np.int64, flags="C_CONTIGUOUS")
_i32p = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
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


def _declare(lib) -> None:
    """Declares the functions of expert_placement.h on ``lib``."""
    lib.ep_abi_version.restype = _i32
    lib.ep_abi_version.argtypes = []
    lib.ep_version.restype = _str
    lib.ep_version.argtypes = []
    f64n, i64n = _Nullable(_f64p), _Nullable(_i64p)
    solve_inputs = [
        _f64p, _i64, _i64, _i64, _i32,  # loads, L, T, E, episodes_first
        _i64, _i64, _i64, _i64,  # devices, slots, nodes, groups
        _str, _str, _f64, _i32,  # method, objective, time limit, threads
        i64n, _f64, _i64,  # current, move cost, max moves
    ]
    outputs = [
        _i64p, i64n, i64n, _i64,  # phy2log, logcnt, log2phy, width
        f64n,  # layer stats
    ]
    lib.ep_solve.restype = _i32
    lib.ep_solve.argtypes = solve_inputs + outputs + [f64n, ctypes.c_char_p, _i64]  # wall seconds, message
    # ep_solve_ex adds a drop budget, each layer's bound source and capped imbalance; a library
    # older than it lacks the symbol.
    if hasattr(lib, "ep_solve_ex"):
        lib.ep_solve_ex.restype = _i32
        lib.ep_solve_ex.argtypes = (solve_inputs + [_f64] + outputs  # drop budget
                                    + [_Nullable(_i32p), f64n, f64n, ctypes.c_char_p, _i64])
    lib.ep_rebalance.restype = _i32
    lib.ep_rebalance.argtypes = _REBALANCE_INPUTS + [
        _i64p, i64n, i64n, f64n, f64n, f64n, f64n,  # phy2log, priority, moves, before, after, recorded out, seconds
        ctypes.c_char_p, _i64,
    ]
    # ep_rebalance_ex adds a regime memory (ep_regime_memory_create/free) and where each plan
    # was made; a library older than it lacks the symbols.
    if hasattr(lib, "ep_rebalance_ex"):
        lib.ep_rebalance_ex.restype = _i32
        lib.ep_rebalance_ex.argtypes = _REBALANCE_INPUTS + [
            ctypes.c_void_p,  # memory
            _i64p, i64n, i64n, f64n, f64n, f64n,  # phy2log, priority, moves, before, after, recorded out
            _Nullable(_i32p), f64n,  # planned on, seconds
            ctypes.c_char_p, _i64,
        ]
        lib.ep_regime_memory_create.restype = _i32
        lib.ep_regime_memory_create.argtypes = [_i64, ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, _i64]
        lib.ep_regime_memory_free.restype = None
        lib.ep_regime_memory_free.argtypes = [ctypes.c_void_p]
    # A measured move price on a memory; a library older than it lacks the symbols.
    if hasattr(lib, "ep_regime_memory_set_payback"):
        lib.ep_regime_memory_set_payback.restype = _i32
        lib.ep_regime_memory_set_payback.argtypes = [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_double,
                                                     ctypes.c_char_p, _i64]
        lib.ep_regime_memory_payback.restype = _i32
        lib.ep_regime_memory_payback.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.c_char_p, _i64]
    lib.ep_evaluate.restype = _i32
    lib.ep_evaluate.argtypes = [_f64p, _i64, _i64, _i64, _i32, _i64, _i64, _i64p, _f64p, ctypes.c_char_p, _i64]
    lib.ep_validate.restype = _i32
    lib.ep_validate.argtypes = [_i64p, _i64, _i64, _i64, _i64, i64n, ctypes.c_char_p, _i64]


def _declare_forecasting(lib) -> None:
    """Declares the functions of expert_placement_forecast.h on ``lib``."""
    f64n, i64n = _Nullable(_f64p), _Nullable(_i64p)
    lib.ep_forecast_abi_version.restype = _i32
    lib.ep_forecast_abi_version.argtypes = []
    lib.ep_forecast.restype = _i32
    lib.ep_forecast.argtypes = [
        _f64p, _i64, _i64, _i64, _i32, _i64,  # loads, L, T, E, episodes_first, window
        _str, _i64,  # model, horizon
        _f64, _i64, _i64, _f64, _f64,  # smoothing, period, order, ridge, shift threshold
        _f64p, f64n,  # predicted, diagnostics
        ctypes.c_char_p, _i64,
    ]
    lib.ep_rebalance_planned.restype = _i32
    lib.ep_rebalance_planned.argtypes = _REBALANCE_INPUTS + [
        _str, _i64, _str, _f64,  # strategy, horizon, model, hedge K
        _f64, _i64, _i64, _f64, _f64,  # smoothing, period, order, ridge, shift threshold
        _i64p, i64n, i64n, f64n, f64n, f64n,  # phy2log, priority, moves, before, after, recorded out
        ctypes.c_char_p, _i64, f64n,  # strategy used, its capacity, seconds
        ctypes.c_char_p, _i64,
    ]


_REBALANCE_INPUTS = [
    _f64p, _i64, _i64, _i64, _i32,
    _i64, _i64, _i64, _i64,
    _str, _str, _f64, _i32,
    _i64p, _f64, _i64,  # current (required), move cost, max moves
    _Nullable(_f64p), _f64, _f64, _f64, _i64,  # recorded, threshold, relative, min gain, max layers
]


def _load():
    """The loaded library, whether it is the forecasting superset, and why not when it is not.

    The superset is tried first; when it is missing or its ``dlopen`` fails (LAPACKE absent, not a
    library), the plain library is loaded instead. A superset that loads but reports another ABI
    version is an error, not a fallback: its Swift runtime is already in the process.
    """
    path, reason = _locate_forecasting()
    if path is not None:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as error:
            reason = f"{path} did not load: {error}"
        else:
            _declare(lib)
            _declare_forecasting(lib)
            _check_abi(lib, path.name)
            found = lib.ep_forecast_abi_version()
            if found != FORECAST_ABI_VERSION:
                raise ImportError(f"{path.name} has forecasting ABI version {found}, this package needs "
                                  f"{FORECAST_ABI_VERSION}: reinstall")
            return lib, True, None
    plain = _locate()
    lib = ctypes.CDLL(str(plain))
    _declare(lib)
    _check_abi(lib, plain.name)
    return lib, False, reason


def _check_abi(lib, name: str) -> None:
    found = lib.ep_abi_version()
    if found != ABI_VERSION:
        raise ImportError(f"{name} has C ABI version {found}, this package needs {ABI_VERSION}: reinstall")


#: The loaded library (ctypes.CDLL).
#: ``forecasting``: whether it is the forecasting superset; ``forecasting_error``: why not, else None.
lib, forecasting, forecasting_error = _load()


def require_forecasting(what: str) -> None:
    """Raises :class:`ForecastingUnavailableError` when the forecasting library is not loaded."""
    if forecasting:
        return
    raise ForecastingUnavailableError(
        f"{what} needs the forecasting library {_FORECAST_LIBRARY_NAME}, which is not loaded "
        f"({forecasting_error}). It links LAPACKE at run time: where that is missing, install it (`apt-get install liblapacke`; "
        "liblapacke-dev to build) and reinstall with `pip install ./python`. The plain library, "
        f"{_LIBRARY_NAME}, was loaded instead: placement and rebalancing on the window work, forecasting does not."
    )


def message_buffer():
    return ctypes.create_string_buffer(512)


#: The C library's parameter names (its messages start with them) → this package's argument
#: names, where they differ.
_ARGUMENT_NAMES = {
    "unit_price": "payback_unit_price", "min_intervals": "payback_range", "max_intervals": "payback_range",
    "loads": "weight", "layers": "weight",
    "nodes": "num_nodes", "groups": "num_groups", "devices": "num_gpus", "slots_per_device": "num_replicas",
    "devices, slots_per_device": "num_replicas",
}


def argument_names(text: str) -> str:
    """``text`` with its leading field named as the Python argument is (``nodes: …`` →
    ``num_nodes: …``; ``loads[3][0][17]`` → ``weight[3][0][17]``)."""
    head, sep, rest = text.partition(": ")
    if not sep:
        return text
    base, bracket, index = head.partition("[")
    name = _ARGUMENT_NAMES.get(base)
    if name is not None:
        head = name + bracket + index
    return f"{head}: {rest}"


def check(code: int, buffer) -> None:
    """Raises the exception matching a C API return code."""
    if code == EP_OK:
        return
    text = argument_names(buffer.value.decode("utf-8", "replace") or f"error code {code}")
    if code == EP_INFEASIBLE:
        raise InfeasibleError(code, text)
    if code == EP_INVALID_PLACEMENT:
        raise InvalidPlacementError(code, text)
    raise PlacementError(code, text)

"""In-process calls into the library: placement, rebalancing, evaluation and validation.

Arrays go in as NumPy arrays or torch tensors (any dtype, any device: they are copied to float64
or int64 on the CPU once) and come back in the same kind: NumPy in → NumPy out, torch in → torch
out. Shapes use the library's names: L layers, T episodes, E logical experts, D devices (EP ranks),
S slots per device, P = D·S physical slots.
"""

from __future__ import annotations

import ctypes
import inspect
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

import numpy as np

from . import _native
from ._native import PlacementError

METHODS = ("search", "greedy", "hierarchical")
OBJECTIVES = ("mean", "worst", "aggregate", "peak-sum")


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _to_numpy(x: Any, dtype, name: str) -> np.ndarray:
    if _is_torch(x):
        x = x.detach().cpu().numpy()
    try:
        array = np.asarray(x)
    except Exception as error:  # pragma: no cover - numpy's own message is clear
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: cannot be read as an array ({error})") from None
    # Real numbers only: booleans (a mask passed by mistake) and complex values (whose imaginary
    # part NumPy would drop with a warning) are refused, not converted.
    if array.dtype.kind not in "iuf":
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"{name}: must hold real numbers (integers or floats), got dtype {array.dtype}")
    if dtype == np.int64 and not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must hold whole numbers (expert ids)")
    return np.ascontiguousarray(array, dtype=dtype)


def _like(template: Any, array: np.ndarray):
    """``array`` as the same kind of array as ``template`` (torch in → torch out)."""
    if _is_torch(template):
        import torch

        return torch.from_numpy(array)
    return array


def _loads(weight: Any, axes: Optional[str]) -> Tuple[np.ndarray, int, int, int, int]:
    """The loads as float64 plus (L, T, E, episodes_first)."""
    w = _to_numpy(weight, np.float64, "weight")
    if w.ndim == 2:
        layers, experts = w.shape
        return w, layers, 1, experts, 0
    if w.ndim == 3:
        if axes == "tle":
            episodes, layers, experts = w.shape
            return w, layers, episodes, experts, 1
        if axes == "lte":
            layers, episodes, experts = w.shape
            return w, layers, episodes, experts, 0
        raise PlacementError(
            _native.EP_INVALID_ARGUMENT,
            f"weight: axes must be 'tle' ([T, L, E], the engines' per-step order) or 'lte' ([L, T, E]), got {axes!r}",
        )
    raise PlacementError(
        _native.EP_INVALID_ARGUMENT,
        f"weight: expected [L, E] or a 3-D window ([T, L, E] with axes='tle'), got shape {tuple(w.shape)}",
    )


def _topology(num_replicas: int, num_gpus: int, experts: int, name: str = "num_replicas") -> Tuple[int, int]:
    """Devices and slots per device; ``name`` is what errors call the slot count (the argument, or
    the width of a plan the count comes from)."""
    if isinstance(num_gpus, bool) or not isinstance(num_gpus, (int, np.integer)) or num_gpus < 1:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"num_gpus: must be a positive integer, got {num_gpus!r}")
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1 \
            or num_replicas % num_gpus:
        raise PlacementError(
            _native.EP_INVALID_ARGUMENT,
            f"{name}: must be a positive multiple of num_gpus ({num_gpus}), got {num_replicas!r}",
        )
    if num_replicas < experts:
        raise PlacementError(
            _native.EP_INVALID_ARGUMENT,
            f"{name}: {num_replicas} slots cannot hold {experts} logical experts",
        )
    return int(num_gpus), int(num_replicas) // int(num_gpus)


def _text(value: Optional[str], name: str) -> Optional[bytes]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must be a string, got {value!r}")
    if "\x00" in value:  # C would read only up to it ("greedy\x00x" would run as greedy)
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: contains a NUL character: {value!r}")
    return value.encode()


def _seconds(time_limit: Optional[float]) -> float:
    if time_limit is None:
        return 0.0
    value = _number(time_limit, "time_limit")
    if not value > 0:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"time_limit: must be a positive number of seconds, got {time_limit!r}")
    return value


def _current(current: Any, layers: int, slots: int, name: str) -> Optional[np.ndarray]:
    if current is None:
        return None
    c = _to_numpy(current, np.int64, name)
    # The exact shape, never a reshape: a transposed [P, L] plan has the right size too.
    if c.shape != (layers, slots):
        raise PlacementError(
            _native.EP_INVALID_ARGUMENT, f"{name}: expected [L={layers}, P={slots}] expert ids, got shape {tuple(c.shape)}"
        )
    return c


@dataclass
class Placement:
    """One placement for every layer, with its scores.

    ``phy2log`` [L, P], ``log2phy`` [L, E, width] (each expert's slots ascending, −1-padded),
    ``logcnt`` [L, E] (int64); ``value`` [L] the objective per layer, ``lower_bound`` [L] a proven
    bound on each layer's optimum (NaN when none), ``moves`` [L] replicas moved from ``current``;
    ``wall_seconds`` the library's own time for the call. ``lower_bound_source`` [L] says what each
    bound rests on, so that a gap is read for what it is: ``"optimum"`` (the layer's proven
    optimum: the gap is the true gap), ``"allotment"`` (per episode the larger of the average
    device load and the min-max allotment, raised over several episodes where one replica count per
    expert cannot serve every episode's hot experts: the gap is only an upper limit), ``"exactSearch"``, or
    ``None`` without a bound (the keys of ``solver.lowerBoundSources`` in ``eplb solve``'s JSON).
    ``capped_imbalance`` [L]: with a ``drop_budget``, each layer's objective with capped peaks
    (the metrics' ``cappedImbalance``); ``None`` without one.
    """

    phy2log: Any
    log2phy: Any
    logcnt: Any
    value: np.ndarray
    lower_bound: np.ndarray
    moves: np.ndarray
    wall_seconds: float
    lower_bound_source: List[Optional[str]] = field(default_factory=list)
    capped_imbalance: Optional[np.ndarray] = None


#: ``ep_solve_ex``'s bound-source codes (expert_placement.h: EP_BOUND_*).
_BOUND_SOURCES = {0: None, 1: "allotment", 2: "optimum", 3: "exactSearch"}


def solve(
    weight: Any,
    num_replicas: int,
    num_gpus: int,
    *,
    num_groups: int = 1,
    num_nodes: int = 1,
    method: str = "search",
    objective: str = "mean",
    time_limit: Optional[float] = None,
    threads: int = 0,
    axes: Optional[str] = None,
    current: Any = None,
    move_cost: float = 0.0,
    max_moves: Optional[int] = None,
    drop_budget: Optional[float] = None,
) -> Placement:
    """Places every layer's replicas (``ep_solve_ex``).

    ``weight`` is [L, E] loads, or a window of episodes [T, L, E] (``axes='tle'``) or [L, T, E]
    (``axes='lte'``). ``current`` ([L, P] ids), when given, is the deployed plan: the result is
    relabelled onto its devices (an expert that stays keeps its slot), and ``move_cost`` (objective
    units per moved replica) or ``max_moves`` (per layer) trade balance against moves.
    ``drop_budget`` f in (0, 1): each episode may drop up to a fraction f of its tokens at
    capacity, and the plan minimises the objective on capped peaks (``eplb solve --drop-budget``);
    the result's ``capped_imbalance`` holds that value per layer.
    """
    w, layers, episodes, experts, episodes_first = _loads(weight, axes)
    devices, slots_per_device = _topology(num_replicas, num_gpus, experts)
    slots = devices * slots_per_device
    c = _current(current, layers, slots, "current")
    width = max(slots - experts + 1, 1)
    # The library's size limit (2^30 entries a table), checked before the tables are allocated.
    if layers * experts * width > 1 << 30 or layers * slots > 1 << 30:
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"num_replicas: layers × experts × ({slots} − experts + 1) log2phy entries, or layers × "
                             f"{slots} slots, is above the library's limit of {1 << 30} entries")
    phy2log = np.empty((layers, slots), dtype=np.int64)
    logcnt = np.empty((layers, experts), dtype=np.int64)
    log2phy = np.empty((layers, experts, width), dtype=np.int64)
    stats = np.empty((layers, 3), dtype=np.float64)
    seconds = np.zeros(1)
    buffer = _native.message_buffer()
    arguments = [
        w, layers, episodes, experts, episodes_first,
        devices, slots_per_device, _positive(num_nodes, "num_nodes"), _positive(num_groups, "num_groups"),
        _text(method, "method"), _text(objective, "objective"), _seconds(time_limit), _threads(threads),
        c, _number(move_cost, "move_cost"), _limit(max_moves, "max_moves"),
    ]
    outputs = [phy2log, logcnt, log2phy, width, stats]
    sources: List[Optional[str]] = []
    capped = None
    if hasattr(_native.lib, "ep_solve_ex"):
        codes = np.zeros(layers, dtype=np.int32)
        capped = np.full(layers, np.nan)
        budget = _optional(drop_budget, "drop_budget")
        code = _native.lib.ep_solve_ex(*arguments, budget, *outputs, codes, capped, seconds, buffer, len(buffer))
        _native.check(code, buffer)
        sources = [_BOUND_SOURCES.get(int(k)) for k in codes]
        if drop_budget is None or budget == 0:
            capped = None
    else:  # a library built before ep_solve_ex
        if drop_budget is not None:
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 "drop_budget: this library predates ep_solve_ex; rebuild it (pip install ./python)")
        code = _native.lib.ep_solve(*arguments, *outputs, seconds, buffer, len(buffer))
        _native.check(code, buffer)
    return Placement(
        phy2log=_like(weight, phy2log), log2phy=_like(weight, log2phy), logcnt=_like(weight, logcnt),
        value=stats[:, 0].copy(), lower_bound=stats[:, 1].copy(), moves=stats[:, 2].astype(np.int64),
        wall_seconds=float(seconds[0]), lower_bound_source=sources, capped_imbalance=capped,
    )


def rebalance_experts(
    weight: Any,
    num_replicas: int,
    num_groups: Optional[int],
    num_nodes: int,
    num_gpus: int,
    *,
    method: str = "search",
    objective: str = "mean",
    time_limit: Optional[float] = None,
    axes: Optional[str] = None,
):
    """A drop-in for DeepSeek EPLB's ``rebalance_experts``: same arguments, same outputs, with
    ``log2phy`` as wide as vLLM's port makes it (``num_replicas − E + 1``, the most replicas an
    expert can have; DeepSeek's own is as wide as the largest replica count).

    ``weight`` [L, E] (or a window [T, L, E] with ``axes='tle'``); ``num_replicas`` physical
    slots in all, ``num_gpus`` devices, ``num_groups``/``num_nodes`` as in DeepSeek EPLB (used by
    ``method='hierarchical'``, which is DeepSeek's own policy: hierarchical when groups divide by
    nodes, global otherwise). Returns ``(phy2log [L, num_replicas], log2phy [L, E,
    num_replicas − E + 1], logcnt [L, E])``, int64, ``log2phy`` padded with −1; torch in → torch
    out. The default ``method='search'`` gives a better balance than DeepSeek's greedy policy.
    """
    groups, nodes = _policy_shape(method, num_groups, num_nodes)
    plan = solve(weight, num_replicas, num_gpus, num_groups=groups, num_nodes=nodes, method=method,
                 objective=objective, time_limit=time_limit, axes=axes)
    return plan.phy2log, plan.log2phy, plan.logcnt


@dataclass
class RebalanceResult:
    """One rebalance of a deployed plan.

    ``phy2log`` [L, P] the whole new plan; ``priority`` the changed layers in the order to apply
    them; ``moves`` [L] moved replicas; ``before``/``after`` [L] the objective on the window;
    ``recorded`` [L] each layer's value after its last update (for the relative-threshold rule);
    ``strategy`` what the plan was made for: ``"window"``, the strategy asked for
    (``"forecast+window:trend"``), or ``auto``'s choice (``"auto → forecast:mean"``). With a
    strategy, ``before``/``after``/``recorded`` are scored on the planned loads, as ``eplb
    rebalance --strategy`` does. ``planned_on`` is ``"memory"`` when a :class:`RegimeMemory` chose
    the plan made on its remembered windows (``before``/``after``/``recorded`` then refer to
    them), else ``"window"``.
    """

    phy2log: Any
    priority: np.ndarray
    moves: np.ndarray
    before: np.ndarray
    after: np.ndarray
    recorded: np.ndarray
    wall_seconds: float
    strategy: str = "window"
    planned_on: str = "window"

    @property
    def changed(self) -> bool:
        return len(self.priority) > 0


class RegimeMemory:
    """The windows a serving loop has seen and which plan served better (the library's
    ``RegimeMemory``, as ``eplb simulate``'s ``rebalance`` policy keeps it).

    Pass the same memory to :func:`rebalance` at every call of one loop (one model, one topology),
    or let :class:`Rebalancer` keep one (``regime_memory=8``). It remembers the last ``windows``
    windows, each summed into 8 blocks. From the second call on, each call makes a second plan on
    all of them (the newest window weighing half) and returns it instead of the window's own plan
    when the two plans of the previous calls, scored on the windows that followed them, say it
    serves better: a workload that stays in its regime keeps planning on the window, one whose
    regimes come back gets a plan that serves them all. A call then makes two plans.

    Calls through one memory are serialised (a lock). Needs a library with ``ep_rebalance_ex``.

    ``payback_unit_price=p`` also measures the move price, as ``eplb simulate
    --payback-intervals auto`` (its default) does: at each call the plan the previous call
    deployed is scored on the new window against the one it replaced; the share of its gain that survived (smoothed)
    gives a payback horizon ``k`` in ``payback_range`` (2 to 8 by default), and the call's move
    cost is ``p / k`` instead of ``move_cost``. ``p`` is the move cost at which a move pays for
    itself within one interval (what ``eplb simulate`` records as ``settings.rebalance.unitMoveCost``).
    :attr:`payback_intervals` is the horizon of the last call.
    """

    def __init__(self, windows: int = 8, payback_unit_price: Optional[float] = None,
                 payback_range: Tuple[float, float] = (2.0, 8.0)):
        if not hasattr(_native.lib, "ep_rebalance_ex"):
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 "RegimeMemory: the loaded library has no ep_rebalance_ex: reinstall with `pip install ./python`")
        handle = ctypes.c_void_p()
        buffer = _native.message_buffer()
        _native.check(_native.lib.ep_regime_memory_create(_integer(windows, "windows"), ctypes.byref(handle),
                                                          buffer, len(buffer)), buffer)
        self.windows = int(windows)
        self._handle = handle
        self._lock = threading.Lock()
        self._free = weakref.finalize(self, _native.lib.ep_regime_memory_free, handle)
        self.payback_unit_price = None
        if payback_unit_price is not None:
            if not hasattr(_native.lib, "ep_regime_memory_set_payback"):
                raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                     "payback_unit_price: the loaded library has no ep_regime_memory_set_payback: reinstall with `pip install ./python`")
            try:
                unit = float(payback_unit_price)
                low, high = (float(x) for x in payback_range)
            except (TypeError, ValueError):
                raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                     f"payback_unit_price, payback_range: expected a number and a pair of numbers, "
                                     f"got {payback_unit_price!r} and {payback_range!r}") from None
            _native.check(_native.lib.ep_regime_memory_set_payback(handle, unit, low, high, buffer, len(buffer)), buffer)
            self.payback_unit_price = unit

    @property
    def payback_intervals(self) -> Optional[float]:
        """The payback horizon the last call priced moves at (``None`` without a measured price
        or before the first call)."""
        if self.payback_unit_price is None:
            return None
        value = ctypes.c_double()
        buffer = _native.message_buffer()
        with self._lock:
            _native.check(_native.lib.ep_regime_memory_payback(self._handle, ctypes.byref(value), buffer, len(buffer)), buffer)
        return None if value.value != value.value else value.value


def _policy_shape(method: str, num_groups: Optional[int], num_nodes: int) -> tuple:
    """Groups and nodes as DeepSeek EPLB (and vLLM's and SGLang's ports of it) use them: they shape
    the hierarchical policy only, and when the groups do not divide over the nodes it balances
    globally (one group, one node). ``None`` groups (as SGLang passes them) mean one."""
    groups = 1 if num_groups is None else _positive(num_groups, "num_groups")
    nodes = _positive(num_nodes, "num_nodes")
    if method != "hierarchical" or groups % nodes:
        return 1, 1
    return groups, nodes


def _optional(value: Optional[float], name: str) -> float:
    if value is None:
        return float("nan")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must be a number or None, got {value!r}") from None
    if v != v:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: is NaN (pass None for no rule)")
    return v


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must be an integer, got {value!r}")
    v = int(value)
    # ctypes would wrap a larger value modulo 2^64 (2**64 + 2 groups would be 2).
    if not -(2**63) <= v < 2**63:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: {v} is outside the 64-bit range")
    return v


def _positive(value: Any, name: str) -> int:
    v = _integer(value, name)
    if v < 1:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must be at least 1, got {v}")
    return v


def _threads(value: Any) -> int:
    v = _integer(value, "threads")
    if v < 0:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"threads: must be 0 (all cores) or more, got {v}")
    return min(v, 2**31 - 1)  # a 32-bit C argument; more threads than that is all cores anyway


def _limit(value: Any, name: str) -> int:
    """An optional count limit (``None``: no limit, passed to C as −1)."""
    if value is None:
        return -1
    v = _integer(value, name)
    if v < 0:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must be 0 or more (None: no limit), got {v}")
    return v


def _number(value: Any, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{name}: must be a number, got {value!r}") from None


def _model_parameters(smoothing: float, period: int, order: int, ridge: float, shift_threshold: float) -> tuple:
    """The model parameters in the C API's order, with Python's types checked (ranges: the library)."""
    return (_number(smoothing, "smoothing"), _integer(period, "period"), _integer(order, "order"),
            _number(ridge, "ridge"), _number(shift_threshold, "shift_threshold"))


def rebalance(
    weight: Any,
    current: Any,
    num_gpus: int,
    *,
    num_groups: int = 1,
    num_nodes: int = 1,
    method: str = "search",
    objective: str = "mean",
    time_limit: Optional[float] = None,
    threads: int = 0,
    axes: Optional[str] = None,
    move_cost: float = 0.0,
    max_moves: Optional[int] = None,
    recorded: Any = None,
    threshold: Optional[float] = None,
    relative_threshold: Optional[float] = None,
    min_gain: Optional[float] = None,
    max_layers: Optional[int] = None,
    strategy: Optional[str] = None,
    horizon: int = 4,
    model: str = "mean",
    hedge_k: float = 1.0,
    smoothing: float = 0.3,
    period: int = 0,
    order: int = 2,
    ridge: float = 0.1,
    shift_threshold: float = 0.1,
    memory: Optional[RegimeMemory] = None,
) -> RebalanceResult:
    """Rebalances the deployed plan ``current`` ([L, P] ids) on a window of loads (``ep_rebalance``).

    Re-places only the layers the rules select (``threshold``, ``relative_threshold``: FlashLB's
    rule against ``recorded``; every layer when neither is given), keeps a new layer plan only when
    it gains at least ``min_gain``, changes at most ``max_layers`` layers; ``move_cost``/``max_moves``
    trade balance against moves. The same rules as ``eplb rebalance``.

    ``strategy`` plans for the loads to come instead of the window (``ep_rebalance_planned``, the
    same result as ``eplb rebalance --strategy S --horizon H``): ``"window"`` (the default),
    ``"last"``, ``"hedged[:K]"``, ``"forecast[:MODEL]"``, ``"forecast+window[:MODEL]"`` or
    ``"auto"``; ``horizon`` episodes are forecast (and scored by auto's choice); ``model`` is the
    model of a bare ``forecast`` and of auto's forecast candidate, ``hedge_k`` the K of a bare
    ``hedged``; ``smoothing``, ``period``, ``order``, ``ridge``, ``shift_threshold`` are the models'
    parameters (see :func:`forecast`). A strategy other than ``"window"`` needs the forecasting
    library (LAPACKE at run time): without it, :class:`ForecastingUnavailableError` says why.

    ``memory`` (a :class:`RegimeMemory`, with the window strategy only) remembers this window and
    may return the plan made on the remembered ones (``planned_on="memory"``).
    """
    if memory is not None:
        if not isinstance(memory, RegimeMemory):
            raise PlacementError(_native.EP_INVALID_ARGUMENT, f"memory: expected a RegimeMemory, got {type(memory).__name__}")
        if strategy is not None and strategy != "window":
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"memory: works with the window strategy only, got strategy={strategy!r} "
                                 "(a strategy decides itself what to plan on)")
    planned = memory is None and strategy is not None and (_native.forecasting or strategy != "window")
    if planned:
        _native.require_forecasting(f"rebalance(strategy={strategy!r})")
        planning = (_text(strategy, "strategy"), _integer(horizon, "horizon"), _text(model, "model"),
                    _number(hedge_k, "hedge_k"), *_model_parameters(smoothing, period, order, ridge, shift_threshold))
    w, layers, episodes, experts, episodes_first = _loads(weight, axes)
    if current is None:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, "current: the deployed plan is required")
    c_any = _to_numpy(current, np.int64, "current")
    if c_any.ndim != 2 or c_any.shape[0] != layers:
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"current: expected [L={layers}, P] expert ids, got shape {tuple(c_any.shape)}")
    devices, slots_per_device = _topology(c_any.shape[1], num_gpus, experts, "current (its width, the slots)")
    slots = devices * slots_per_device
    c = c_any.reshape(layers, slots)
    r = None
    if recorded is not None:
        r = np.ascontiguousarray(_to_numpy(recorded, np.float64, "recorded").reshape(-1))
        if r.size != layers:
            raise PlacementError(_native.EP_INVALID_ARGUMENT, f"recorded: expected {layers} values, got {r.size}")
    phy2log = np.empty((layers, slots), dtype=np.int64)
    priority = np.empty(layers, dtype=np.int64)
    moves = np.empty(layers, dtype=np.int64)
    before = np.empty(layers, dtype=np.float64)
    after = np.empty(layers, dtype=np.float64)
    recorded_out = np.empty(layers, dtype=np.float64)
    seconds = np.zeros(1)
    buffer = _native.message_buffer()
    inputs = (
        w, layers, episodes, experts, episodes_first,
        devices, slots_per_device, _positive(num_nodes, "num_nodes"), _positive(num_groups, "num_groups"),
        _text(method, "method"), _text(objective, "objective"), _seconds(time_limit), _threads(threads),
        c, _number(move_cost, "move_cost"), _limit(max_moves, "max_moves"),
        r, _optional(threshold, "threshold"), _optional(relative_threshold, "relative_threshold"),
        _optional(min_gain, "min_gain"), _limit(max_layers, "max_layers"),
    )
    used = "window"
    planned_on = np.zeros(1, dtype=np.int32)  # 1: the memory's plan (ep_rebalance_ex)
    if planned:
        used_buffer = ctypes.create_string_buffer(128)
        code = _native.lib.ep_rebalance_planned(
            *inputs, *planning, phy2log, priority, moves, before, after, recorded_out,
            used_buffer, len(used_buffer), seconds, buffer, len(buffer),
        )
        used = used_buffer.value.decode("utf-8", "replace")
    elif memory is not None:
        with memory._lock:
            code = _native.lib.ep_rebalance_ex(
                *inputs, memory._handle, phy2log, priority, moves, before, after, recorded_out, planned_on, seconds,
                buffer, len(buffer),
            )
    else:
        code = _native.lib.ep_rebalance(
            *inputs, phy2log, priority, moves, before, after, recorded_out, seconds, buffer, len(buffer),
        )
    _native.check(code, buffer)
    return RebalanceResult(
        phy2log=_like(weight, phy2log), priority=priority[priority >= 0].copy(), moves=moves,
        before=before, after=after, recorded=recorded_out, wall_seconds=float(seconds[0]), strategy=used,
        planned_on="memory" if planned_on[0] == 1 else "window",
    )


def evaluate(weight: Any, phy2log: Any, num_gpus: int, *, axes: Optional[str] = None) -> dict:
    """Scores a plan on loads: per-layer arrays ``meanImbalance``, ``worstImbalance``,
    ``aggregateImbalance``, ``peakSum`` (the metrics of ``eplb evaluate``). A plan with a layer
    that lacks some expert raises :class:`PlacementError` naming it (``eplb evaluate`` reports
    such a layer as null instead)."""
    w, layers, episodes, experts, episodes_first = _loads(weight, axes)
    p = _to_numpy(phy2log, np.int64, "phy2log")
    if p.ndim != 2 or p.shape[0] != layers:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"phy2log: expected [L={layers}, P], got shape {tuple(p.shape)}")
    devices, slots_per_device = _topology(p.shape[1], num_gpus, experts, "phy2log (its width, the slots)")
    metrics = np.empty((layers, 4), dtype=np.float64)
    buffer = _native.message_buffer()
    code = _native.lib.ep_evaluate(w, layers, episodes, experts, episodes_first, devices, slots_per_device,
                                   p, metrics, buffer, len(buffer))
    _native.check(code, buffer)
    keys = ("meanImbalance", "worstImbalance", "aggregateImbalance", "peakSum")
    return {k: metrics[:, i].copy() for i, k in enumerate(keys)}


def validate(phy2log: Any, num_experts: int, num_gpus: int, *, current: Any = None) -> None:
    """Raises :class:`InvalidPlacementError` naming the first rule ``phy2log`` [L, P] breaks: every
    expert present, no expert twice on a device, ids in range; with ``current``, also the rule of a
    change (an expert that stays on a device keeps its slot)."""
    p = _to_numpy(phy2log, np.int64, "phy2log")
    if p.ndim != 2:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"phy2log: expected [L, P], got shape {tuple(p.shape)}")
    layers, slots = p.shape
    gpus, experts = _positive(num_gpus, "num_gpus"), _positive(num_experts, "num_experts")
    if slots % gpus:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"phy2log: {slots} slots do not divide over {gpus} devices")
    c = _current(current, layers, slots, "current")
    buffer = _native.message_buffer()
    code = _native.lib.ep_validate(p, layers, experts, gpus, slots // gpus, c, buffer, len(buffer))
    _native.check(code, buffer)


class Rebalancer:
    """A stateful rebalancer: holds the deployed plan and each layer's value after its last update.

    ``step(window)`` rebalances on a window of loads, makes the new plan the deployed one and
    returns the :class:`RebalanceResult` (apply ``priority``'s layers in order). The keyword
    arguments are those of :func:`rebalance`: with ``strategy=`` and ``horizon=`` every step plans
    for the loads to come (a strategy other than ``"window"`` without the forecasting library
    raises :class:`ForecastingUnavailableError` here, not at the first step).

    ``regime_memory=N`` (N ≥ 2; 8 is what ``eplb simulate``'s ``rebalance`` policy uses, 0 the
    default: off) keeps a :class:`RegimeMemory` of the last N windows (``self.memory``).
    ``payback_unit_price=p`` (with a memory) measures the move price as ``eplb simulate``'s
    ``rebalance`` policy does by default (see :class:`RegimeMemory`; ``p`` is that JSON's
    ``settings.rebalance.unitMoveCost``): the steps are then the simulated policy's decisions. With
    a fixed price instead (``move_cost=`` the JSON's ``settings.rebalance.moveCost`` of
    ``eplb simulate --payback-intervals K``) they are those of that run.
    """

    def __init__(self, current: Any, num_gpus: int, regime_memory: int = 0,
                 payback_unit_price: Optional[float] = None, **options: Any):
        # Misspelt options and a GPU count that does not fit the plan fail here, not at the first step.
        accepted = set(inspect.signature(rebalance).parameters) - {"weight", "current", "num_gpus", "recorded", "memory"}
        for name in options:
            if name not in accepted and name != "memory":
                raise TypeError(f"Rebalancer() got an unexpected keyword argument {name!r}")
        strategy = options.get("strategy")
        windows = _integer(regime_memory, "regime_memory")
        if windows < 0 or windows == 1:
            raise PlacementError(_native.EP_INVALID_ARGUMENT, f"regime_memory: must be 0 (off) or at least 2, got {windows}")
        if windows and strategy is not None and strategy != "window":
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"regime_memory: works with the window strategy only, got strategy={strategy!r}")
        if "memory" in options:
            raise PlacementError(_native.EP_INVALID_ARGUMENT, "memory: pass regime_memory=N; the Rebalancer keeps its own")
        if payback_unit_price is not None and not windows:
            raise PlacementError(_native.EP_INVALID_ARGUMENT, "payback_unit_price: needs regime_memory=N (N ≥ 2)")
        self.memory = RegimeMemory(windows, payback_unit_price=payback_unit_price) if windows else None
        if strategy is not None and strategy != "window":
            _native.require_forecasting(f"Rebalancer(strategy={strategy!r})")
        # Copies, in and out: the caller's arrays and the results it is handed never alias the
        # rebalancer's state.
        self.deployed = _to_numpy(current, np.int64, "current").copy()
        if self.deployed.ndim != 2:
            raise PlacementError(_native.EP_INVALID_ARGUMENT, f"current: expected [L, P], got shape {tuple(self.deployed.shape)}")
        gpus = _positive(num_gpus, "num_gpus")
        if self.deployed.shape[1] % gpus:
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"current (its width, the slots): {self.deployed.shape[1]} slots do not divide over {gpus} GPUs")
        self.num_gpus = num_gpus
        self.options = options
        self.recorded = np.full(self.deployed.shape[0], np.nan)

    def step(self, window: Any) -> RebalanceResult:
        result = rebalance(window, self.deployed, self.num_gpus, recorded=self.recorded, memory=self.memory, **self.options)
        self.deployed = _to_numpy(result.phy2log, np.int64, "phy2log").copy()
        # A copy: the caller may edit the result's arrays without changing the rebalancer's state.
        self.recorded = np.array(result.recorded, dtype=np.float64, copy=True)
        return result

"""Entry points in the engines' own shapes: vLLM's policy class, SGLang's per-step entry point and
vllm-ascend's policy interface. Each converts once and calls the library in-process."""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from . import _native
from ._native import PlacementError
from .core import _is_torch, _like, _policy_shape, _to_numpy, rebalance, solve


class VllmPolicy:
    """vLLM's EPLB policy interface (``AbstractEplbPolicy.rebalance_experts``), for the vLLM
    releases whose ``rebalance_experts`` returns the three maps ``(phy2log, log2phy, logcnt)``.
    Newer vLLM (the "V2" contract: ``rebalance_experts`` annotated ``-> torch.Tensor``, in
    ``vllm/distributed/eplb/policy/abstract.py``) takes ``phy2log`` alone: use
    :class:`VllmPhy2LogPolicy`; mixed in with vLLM's ``AbstractEplbPolicy`` (``class
    Policy(VllmPhy2LogPolicy, AbstractEplbPolicy)``), vLLM's own ``plan_rebalance`` calls it.

    Subclass to change ``method``, ``objective``, ``move_cost`` or ``time_limit``. With
    ``old_global_expert_indices`` ([L, num_replicas], the plan in force) the new plan is relabelled
    onto the deployed ranks, so an expert that stays keeps its slot, and ``move_cost`` trades
    balance against moved replicas. A plan in force with an expert twice on a GPU (vLLM's default
    policy can make one) is rebalanced from. With ``method = "hierarchical"`` on several nodes the
    relabelling keeps each node whole (groups stay on one node) and ``move_cost`` must be 0.
    """

    method = "search"
    objective = "mean"
    move_cost = 0.0
    time_limit: Optional[float] = None
    #: ``True``: return ``(phy2log, log2phy, logcnt)``; ``False``: ``phy2log`` alone.
    returns_maps = True

    @classmethod
    def rebalance_experts(
        cls,
        weight: Any,
        num_replicas: int,
        num_groups: int,
        num_nodes: int,
        num_ranks: int,
        old_global_expert_indices: Any = None,
    ):
        groups, nodes = _policy_shape(cls.method, num_groups, num_nodes)
        plan = solve(
            weight, num_replicas, num_ranks, num_groups=groups, num_nodes=nodes, method=cls.method,
            objective=cls.objective, time_limit=cls.time_limit, current=old_global_expert_indices,
            move_cost=cls.move_cost if old_global_expert_indices is not None else 0.0,
        )
        return (plan.phy2log, plan.log2phy, plan.logcnt) if cls.returns_maps else plan.phy2log


class VllmPhy2LogPolicy(VllmPolicy):
    """:class:`VllmPolicy` for vLLM whose ``AbstractEplbPolicy.rebalance_experts`` returns the
    new ``physical_to_logical_map`` alone ([L, num_replicas]), as vLLM's ``EplbState`` then passes
    it straight to the weight rearrangement."""

    returns_maps = False


def sglang_rebalance_experts(
    tokens_per_expert: Any,
    num_physical_experts: int,
    num_local_physical_experts: int,
    num_groups: Optional[int],
    num_nodes: int,
    algorithm: Any = None,
    *,
    method: str = "search",
    objective: str = "mean",
    time_limit: Optional[float] = None,
):
    """SGLang's entry point (``eplb_algorithms.rebalance_experts``), with its signature, so it can
    replace SGLang's: ``tokens_per_expert`` is the recorder's per-step history [T, L, E] (or
    [L, E]). Unlike SGLang's DeepSeek algorithms, which sum over steps, every step is an episode of
    the objective (mean per-step imbalance by default). SGLang's ``algorithm`` (its
    ``EplbAlgorithm`` choice) is accepted so that SGLang's own call works; ``method`` decides how
    this library places. Returns ``(phy2log, log2phy, logcnt)``.

    Steps that carry no load in any layer (the unused part of SGLang's step buffer, sized by
    ``--eplb-rebalance-num-iterations``) are left out: they would count as perfectly balanced
    episodes. Groups and nodes shape ``method='hierarchical'`` only, as in SGLang's DeepSeek
    algorithm (global balancing when the groups do not divide over the nodes)."""
    if num_local_physical_experts < 1 or num_physical_experts % num_local_physical_experts:
        raise PlacementError(
            _native.EP_INVALID_ARGUMENT,
            f"num_physical_experts: {num_physical_experts} is not a multiple of num_local_physical_experts ({num_local_physical_experts})",
        )
    num_gpus = num_physical_experts // num_local_physical_experts
    dims = np.ndim(tokens_per_expert) if not _is_torch(tokens_per_expert) else tokens_per_expert.dim()
    if dims == 3:
        tokens_per_expert = _recorded_steps(tokens_per_expert)
    groups, nodes = _policy_shape(method, num_groups, num_nodes)
    plan = solve(
        tokens_per_expert, num_physical_experts, num_gpus, num_groups=groups, num_nodes=nodes,
        method=method, objective=objective, time_limit=time_limit, axes="tle" if dims == 3 else None,
    )
    return plan.phy2log, plan.log2phy, plan.logcnt


def _recorded(history: Any) -> Any:
    """Which steps of a [T, ...] history carry load somewhere (a boolean mask, numpy or torch as
    given): SGLang's step buffer is dumped whole, and its unused steps are all zero."""
    if _is_torch(history):
        return history.reshape(history.shape[0], -1).ne(0).any(dim=1)
    return np.asarray(history).reshape(np.shape(history)[0], -1).astype(bool).any(axis=1)


def _recorded_steps(history: Any) -> Any:
    """The steps of a [T, L, E] history that carry load somewhere (numpy or torch, kept as given);
    all of them when none does (a buffer with no load yet still gets a plan)."""
    recorded = _recorded(history)
    if not bool(recorded.any()) or bool(recorded.all()):
        return history
    return history[recorded] if _is_torch(history) else np.asarray(history)[recorded]


class AscendPolicy:
    """vllm-ascend's policy interface (``EplbPolicy.rebalance_experts``).

    ``current_expert_table`` [L, G, K]: the logical expert in each slot of each rank;
    ``expert_workload`` [L, G, K] tokens per physical slot, or [T, L, G, K] per step. Slot loads
    are summed per logical expert. Returns ``(change, priority, new_table)``: ``change`` 1 when
    any layer changed, ``priority`` the changed layers in the order to apply them, ``new_table``
    [L, G, K] (layers left alone keep their rows; an expert that stays on a rank keeps its slot, as
    the worker's ``check_expert_placement`` requires).
    """

    def __init__(self, *, method: str = "search", objective: str = "mean", move_cost: float = 0.001,
                 max_moves: Optional[int] = None, relative_threshold: Optional[float] = None,
                 min_gain: Optional[float] = 0.02, max_layers: Optional[int] = None,
                 time_limit: Optional[float] = None):
        self.options = dict(method=method, objective=objective, move_cost=move_cost, max_moves=max_moves,
                            relative_threshold=relative_threshold, min_gain=min_gain, max_layers=max_layers,
                            time_limit=time_limit)
        self.recorded: Optional[np.ndarray] = None

    def rebalance_experts(self, current_expert_table: Any, expert_workload: Any):
        table = _to_numpy(current_expert_table, np.int64, "current_expert_table")
        if table.ndim != 3:
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"current_expert_table: expected [L, G, K], got shape {tuple(table.shape)}")
        layers, ranks, slots = table.shape
        work = _to_numpy(expert_workload, np.float64, "expert_workload")
        if work.shape[-3:] != table.shape or work.ndim not in (3, 4):
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"expert_workload: expected [L, G, K] or [T, L, G, K] with [L, G, K] = {table.shape}, got shape {tuple(work.shape)}")
        if table.size and table.min() < 0:
            where = tuple(int(i) for i in np.argwhere(table < 0)[0])
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"current_expert_table{list(where)}: expert id {int(table[where])} is negative (every slot holds a logical expert)")
        experts = int(table.max()) + 1 if table.size else 0
        phy = table.reshape(layers, ranks * slots)
        steps = work.reshape(-1, layers, ranks * slots)  # [T, L, P]
        logical = np.zeros((steps.shape[0], layers, experts))
        for layer in range(layers):
            for t in range(steps.shape[0]):
                logical[t, layer] = np.bincount(phy[layer], weights=steps[t, layer], minlength=experts)
        recorded = self.recorded if self.recorded is not None and self.recorded.size == layers else None
        result = rebalance(logical, phy, ranks, axes="tle", recorded=recorded, **self.options)
        self.recorded = result.recorded
        new_table = np.asarray(result.phy2log).reshape(layers, ranks, slots)
        change = 1 if result.changed else 0
        priority = result.priority
        if _is_torch(current_expert_table):
            return change, priority, _like(current_expert_table, new_table)
        return change, priority, new_table


class SGLangDump:
    """An SGLang expert-distribution recorder dump (``stat`` mode).

    ``logical_count`` is float64 ``[T, L, E]`` (one row per recorded forward pass; ``[L, E]`` when
    the dump was summed) over the decoder layers from ``first_moe_layer`` on; ``rank`` and
    ``average_utilization_rate_over_window`` are copied from the dump when present.
    """

    def __init__(self, logical_count: np.ndarray, rank: Any = None, utilization: Any = None):
        self.logical_count = logical_count
        self.rank = rank
        self.average_utilization_rate_over_window = utilization

    @property
    def axes(self) -> Optional[str]:
        """The ``axes`` to pass with ``logical_count`` (``'tle'`` for a per-pass history)."""
        return "tle" if self.logical_count.ndim == 3 else None


def load_sglang_dump(path: Any, *, first_moe_layer: int = 0) -> SGLangDump:
    """Reads SGLang's recorder output (``expert_distribution_recorder_<time>.pt``, saved with
    ``torch.save`` as ``{"rank", "logical_count", "average_utilization_rate_over_window"}``).

    SGLang counts every decoder layer (61 rows for DeepSeek-V3, the 3 dense ones included):
    ``first_moe_layer=3`` drops the dense rows so that layer 0 is the first MoE layer, as vLLM and
    this library count. Needs torch (the dump is a torch pickle); the ``per_pass``/``per_token``
    modes' ``records`` lists are refused with a message saying to record in ``stat`` mode.
    """
    try:
        import torch
    except ImportError:
        raise ImportError("load_sglang_dump needs torch to read the recorder's .pt file: pip install torch") from None
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict):
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{path}: expected a dict saved by SGLang's recorder, got {type(data).__name__}")
    if "logical_count" not in data:
        hint = " (a per_pass/per_token dump: record with --expert-distribution-recorder-mode stat)" if "records" in data else ""
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"{path}: logical_count: missing{hint}")
    counts = _to_numpy(data["logical_count"], np.float64, f"{path}: logical_count")
    if counts.ndim not in (2, 3):
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"{path}: logical_count: expected [L, E] or [T, L, E], got shape {tuple(counts.shape)}")
    layers = counts.shape[-2]
    if not 0 <= first_moe_layer < layers:
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"first_moe_layer: must be in 0..<{layers} (the dump's layer rows), got {first_moe_layer}")
    if np.any(counts[..., :first_moe_layer, :]):
        layer = int(np.nonzero(counts[..., :first_moe_layer, :].reshape(-1, first_moe_layer, counts.shape[-1])
                               .any(axis=(0, 2)))[0][0])
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"{path}: logical_count: layer {layer} carries load, so it is not a dense layer before "
                             f"first_moe_layer {first_moe_layer}")
    if counts.ndim == 3:
        # SGLang dumps its whole step buffer (sized by --eplb-rebalance-num-iterations): a short
        # recording comes with all-zero steps, which would score as perfectly balanced episodes.
        recorded = _recorded(counts)
        if not recorded.any():
            raise PlacementError(_native.EP_INVALID_ARGUMENT,
                                 f"{path}: logical_count: none of its {counts.shape[0]} steps carries any load")
        if not recorded.all():
            warnings.warn(f"{path}: logical_count: {int((~recorded).sum())} of {counts.shape[0]} steps carry no load in any "
                          "layer (the unused part of SGLang's step buffer, sized by --eplb-rebalance-num-iterations): dropped",
                          stacklevel=2)
            counts = counts[recorded]
    counts = np.ascontiguousarray(counts[..., first_moe_layer:, :])
    return SGLangDump(counts, data.get("rank"), data.get("average_utilization_rate_over_window"))

"""ExpertPlacement for Python: expert-parallel load balancing for MoE serving, in-process.

Calls the Swift library through its C API (``expert_placement.h``) with ctypes: no subprocess,
no JSON. NumPy arrays or torch tensors in, the same kind out.

Quick start::

    import numpy as np, expert_placement as ep
    weight = np.random.default_rng(0).lognormal(size=(58, 256))       # [layers, experts]
    phy2log, log2phy, logcnt = ep.rebalance_experts(weight, 288, 8, 4, 32)  # DeepSeek EPLB's signature

Forecasting (``forecast``, and ``rebalance``/``Rebalancer`` with ``strategy=``) needs the
forecasting library, which links LAPACKE at run time (``apt-get install liblapacke``). Without it
the plain library is loaded: everything else works, and ``FORECASTING`` is False with
``FORECASTING_ERROR`` saying why.

See the README's "Python" section for the engines' adapters and the stateful rebalancer.
"""

from ._native import (
    ForecastingUnavailableError,
    InfeasibleError,
    InvalidPlacementError,
    PlacementError,
    forecasting as FORECASTING,
    forecasting_error as FORECASTING_ERROR,
    lib as _lib,
)
from .adapters import AscendPolicy, SGLangDump, VllmPhy2LogPolicy, VllmPolicy, load_sglang_dump, sglang_rebalance_experts
from .core import (
    METHODS,
    OBJECTIVES,
    Placement,
    RebalanceResult,
    Rebalancer,
    RegimeMemory,
    evaluate,
    rebalance,
    rebalance_experts,
    solve,
    validate,
)
from .forecasting import MODELS, Forecast, forecast

__version__ = _lib.ep_version().decode()

__all__ = [
    "AscendPolicy", "FORECASTING", "FORECASTING_ERROR", "Forecast", "ForecastingUnavailableError", "MODELS",
    "forecast", "InfeasibleError", "InvalidPlacementError", "METHODS", "OBJECTIVES", "Placement",
    "PlacementError", "RebalanceResult", "Rebalancer", "RegimeMemory", "VllmPhy2LogPolicy", "VllmPolicy", "evaluate", "rebalance",
    "rebalance_experts", "sglang_rebalance_experts", "solve", "validate", "SGLangDump", "load_sglang_dump",
    "__version__",
]

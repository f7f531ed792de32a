"""Load forecasts in-process (``ep_forecast`` of the forecasting library): ``eplb forecast`` from Python.

Needs ``libExpertPlacementForecastC`` (it links LAPACKE at run time); where it did not load,
:func:`forecast` raises :class:`ForecastingUnavailableError` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from . import _native
from .core import PlacementError, _integer, _like, _loads, _model_parameters, _text

#: The forecast models, by name (``eplb forecast --model``).
MODELS = ("last", "mean", "ema", "trend", "ar")


@dataclass
class Forecast:
    """Predicted loads and each layer's fit diagnostics.

    ``loads``: the next ``H`` episodes, in the input's axis order: ``[H, L, E]`` for
    ``axes='tle'``, ``[L, H, E]`` for ``axes='lte'`` or a 2-D ``[L, E]`` input; ``>= 0`` (clamped),
    NumPy or torch like the input. Per layer (NumPy, ``[L]``): ``shift`` the total variation between
    the load mix of the window's two halves (0 below 4 episodes); ``shifted`` whether it exceeded
    ``shift_threshold``, so that the fit weighed recent episodes more; ``change_point`` the first
    episode of the new regime when shifted (−1 otherwise); ``rank`` and ``parameters`` the effective
    rank and the columns of the design matrix (``trend``, ``ar``; −1 otherwise);
    ``relative_residual`` the in-sample RMS residual ÷ the layer's mean load (``trend``, ``ar``; NaN
    otherwise). These are the per-layer diagnostics of ``eplb forecast``'s ``"forecast"`` key.
    """

    loads: Any
    model: str
    shift: np.ndarray
    shifted: np.ndarray
    change_point: np.ndarray
    rank: np.ndarray
    parameters: np.ndarray
    relative_residual: np.ndarray


def _whole(column: np.ndarray) -> np.ndarray:
    """NaN-for-none doubles as int64 with −1 for none."""
    return np.where(np.isnan(column), -1, column).astype(np.int64)


def forecast(
    weight: Any,
    horizon: int,
    *,
    model: str = "mean",
    axes: Optional[str] = None,
    window: Optional[int] = None,
    smoothing: float = 0.3,
    period: int = 0,
    order: int = 2,
    ridge: float = 0.1,
    shift_threshold: float = 0.1,
) -> Forecast:
    """Forecasts the next ``horizon`` episodes' loads of every layer and expert (``ep_forecast``).

    The same forecast as ``eplb forecast --horizon H --model M [--window W]``. ``weight`` is the
    history: ``[T, L, E]`` with ``axes='tle'`` (the engines' per-step order), ``[L, T, E]`` with
    ``axes='lte'``, or ``[L, E]`` (one episode). ``window`` uses only its last ``window`` episodes
    (default: all). Models (:data:`MODELS`): ``"last"``; ``"mean"`` (the window mean); ``"ema"``
    (``smoothing`` α in (0, 1]); ``"trend"`` (least-squares linear trend, plus a season of
    ``period`` episodes when ``period >= 2``); ``"ar"`` (autoregression of ``order`` on deviations
    from the window mean, ridge ``ridge``). Above ``shift_threshold`` (total variation between the
    window's halves; 1: never) the fits drop the episodes before the detected change point.

    Raises :class:`PlacementError` naming a bad argument (an unknown model, ``horizon < 1``, a
    parameter out of range) and :class:`ForecastingUnavailableError` when the forecasting library
    (LAPACKE) is not loaded.
    """
    _native.require_forecasting("forecast()")
    h = _integer(horizon, "horizon")
    if window is not None and _integer(window, "window") < 1:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"window: must be at least 1 episode, got {window!r}")
    parameters = _model_parameters(smoothing, period, order, ridge, shift_threshold)
    w, layers, episodes, experts, episodes_first = _loads(weight, axes)
    # Checked before the output is allocated (the library checks the same again).
    if not 1 <= h <= 1_000_000:
        raise PlacementError(_native.EP_INVALID_ARGUMENT, f"horizon: must be between 1 and 1000000, got {h}")
    if h * layers * experts > 1 << 30:
        raise PlacementError(_native.EP_INVALID_ARGUMENT,
                             f"horizon: layers × horizon × experts ({layers} × {h} × {experts}) is above the "
                             f"limit of {1 << 30} entries")
    shape = (h, layers, experts) if episodes_first else (layers, h, experts)
    predicted = np.empty(shape, dtype=np.float64)
    diagnostics = np.empty((layers, _native.FORECAST_DIAGNOSTICS), dtype=np.float64)
    buffer = _native.message_buffer()
    code = _native.lib.ep_forecast(
        w, layers, episodes, experts, episodes_first, 0 if window is None else int(window),
        _text(model, "model"), h, *parameters, predicted, diagnostics, buffer, len(buffer),
    )
    _native.check(code, buffer)
    return Forecast(
        loads=_like(weight, predicted), model="mean" if model is None else model, shift=diagnostics[:, 0].copy(),
        shifted=diagnostics[:, 1] == 1, change_point=_whole(diagnostics[:, 2]), rank=_whole(diagnostics[:, 3]),
        parameters=_whole(diagnostics[:, 4]), relative_residual=diagnostics[:, 5].copy(),
    )

/*
 * expert_placement_forecast.h — forecasting and planned rebalancing in the C API of
 * ExpertPlacement (libExpertPlacementForecastC).
 *
 * libExpertPlacementForecastC is a SUPERSET of libExpertPlacementC: it exports every function of
 * expert_placement.h (included below) plus the ones declared here. Load one of the two libraries
 * in a process, never both: each carries its own copy of the Swift runtime. The superset links
 * LAPACKE (liblapacke.so.3, from Debian's `liblapacke` package) for the forecasters' least
 * squares; where LAPACKE is missing it does not load, and the plain library (no forecasting) is
 * the fallback. The Python package in python/ does exactly that.
 *
 * The conventions of expert_placement.h hold: dense row-major caller-owned buffers, EP_OK or an
 * error code with a one-line message ("field: reason"), every argument checked first (a bad
 * model name, a horizon below 1, a parameter out of range is EP_INVALID_ARGUMENT, never an
 * abort).
 *
 * Forecast models (strings): "last" (the last episode repeated), "mean" (the window mean, the
 * default), "ema" (exponential moving average, `smoothing` α), "trend" (least-squares linear trend
 * plus, with `period` P >= 2, one level per phase of t mod P), "ar" (autoregression of order
 * `order` on each expert's deviation from its window mean, ridge `ridge`). Before fitting, the
 * total variation between the load mix of the window's two halves is compared with
 * `shift_threshold`: above it the fit weighs the episodes from the estimated change point on by 1
 * and earlier ones less (a regime change is not averaged away). See the LoadForecasting guide.
 *
 * Model parameters, every one checked whichever model is used (the defaults of `eplb`):
 *   smoothing        ema's α in (0, 1]                            (0.3)
 *   period           trend's season in episodes, 0...10000; 0 or 1: trend only   (0)
 *   order            ar's order, 1...64                            (2)
 *   ridge            ar's ridge λ >= 0, relative to each lag's energy   (0.1)
 *   shift_threshold  total variation >= 0 above which fits drop the episodes before the change point;
 *                    1 switches the detector off                  (0.1)
 */
#ifndef EXPERT_PLACEMENT_FORECAST_H
#define EXPERT_PLACEMENT_FORECAST_H

#include <stdint.h>

#include "expert_placement.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version of this header's functions (bumped on any incompatible change); the functions
 * of expert_placement.h keep EP_ABI_VERSION. */
#define EP_FORECAST_ABI_VERSION 1

/* Values per layer in ep_forecast's `diagnostics`. */
#define EP_FORECAST_DIAGNOSTICS 6

/* The forecasting ABI version the library was built with; compare it with EP_FORECAST_ABI_VERSION. */
int32_t ep_forecast_abi_version(void);

/*
 * Predicts the next `horizon` episodes' loads of every layer and expert from a load history:
 * the same forecast as `eplb forecast --horizon H --model M [--window W]`.
 *
 * loads           float64, [L][T][E] when episodes_first == 0, [T][L][E] when 1; finite and >= 0.
 * window          use only the last `window` episodes (0: all); more than T is refused, as
 *                 `eplb forecast --window` does.
 * model           a model name (see above); NULL means "mean".
 * horizon         H, the episodes to predict, 1...1000000.
 * smoothing, period, order, ridge, shift_threshold
 *                 the model parameters (see above).
 *
 * Outputs (caller-allocated):
 * predicted       float64 [L][H][E] when episodes_first == 0, [H][L][E] when 1 (the input's
 *                 order); >= 0 (forecasts are clamped at 0) and at most 1e100: a forecast that
 *                 diverges beyond (an ar recursion far ahead) is refused with a message naming
 *                 `horizon`, as is one of more than 2^30 values. Required.
 * diagnostics     float64 [L][EP_FORECAST_DIAGNOSTICS], or NULL: per layer
 *                   [0] shift: total variation between the window halves' load mix (0 below 4 episodes),
 *                   [1] shifted: 1 when shift > shift_threshold (recency weights used), else 0,
 *                   [2] the estimated change point (first episode of the new regime, counted from the
 *                       window's first episode) when shifted, else NaN,
 *                   [3] the effective rank of the design matrix (trend, ar), else NaN,
 *                   [4] its columns (trend, ar), else NaN,
 *                   [5] the in-sample RMS residual ÷ the layer's mean load (trend, ar), else NaN.
 *
 * Any window length of at least one episode is accepted by last, mean, ema and trend: a regression
 * on fewer episodes than parameters is the minimum-norm least-squares fit (LAPACK's dgelsd), so a
 * trend on one episode is that episode. An ar fit of order p needs more than p episodes (with
 * fewer it would only forecast the window mean) and is refused with a message naming `order`. A
 * fit whose matrices exceed LAPACK's 32-bit indices is refused with a message naming `window`.
 */
int32_t ep_forecast(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                    int32_t episodes_first, int64_t window,
                    const char *model, int64_t horizon,
                    double smoothing, int64_t period, int64_t order, double ridge, double shift_threshold,
                    double *predicted, double *diagnostics,
                    char *message, int64_t message_capacity);

/*
 * ep_rebalance planned on the loads to come: the same result as `eplb rebalance --strategy S
 * --horizon H` on the same input. The strategy turns the window into the problem the rebalance
 * runs on, and the layers are selected (threshold rules), re-placed and scored (before, after,
 * recorded_out) on that problem, as the command does.
 *
 * loads … max_layers
 *                 as in ep_rebalance (`current` is required).
 * strategy        NULL or "window" (the window itself: ep_rebalance's result), "last" (the last
 *                 episode), "hedged[:K]" (one episode of μ + K·σ per expert), "forecast[:MODEL]"
 *                 (the forecast's H episodes), "forecast+window[:MODEL]" (the window's episodes
 *                 and the forecast's, weighted W / H each so both count equally) or "auto" (the
 *                 one of last, window, hedged and forecast whose greedy plan did best on the
 *                 window's last H episodes, planned on the episodes before them; "last" when
 *                 the window has no more than H episodes; the forecast when half the layers
 *                 switched regime within the window's last H episodes, as eplb detects it).
 * horizon         H, 1...1000000: the episodes forecast, and those auto scores on (4 in eplb).
 * model           the model of a bare "forecast" / "forecast+window" and of auto's forecast
 *                 candidate; NULL means "mean".
 * hedge_k         K of a bare "hedged" and of auto's hedged candidate (1 in eplb); finite, and
 *                 small enough that every hedged load μ + K·σ stays at most 1e100 (else refused,
 *                 naming hedge_k).
 * smoothing, period, order, ridge, shift_threshold
 *                 the model parameters (see above).
 *
 * Outputs: as ep_rebalance's, plus
 * strategy_used   char [strategy_used_capacity], or NULL: the strategy used, NUL-terminated:
 *                 the strategy's name ("forecast+window:trend"), or for auto its choice as
 *                 "auto → forecast:mean" (UTF-8). 64 bytes are enough for every name.
 */
int32_t ep_rebalance_planned(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                             int32_t episodes_first,
                             int64_t devices, int64_t slots_per_device, int64_t nodes, int64_t groups,
                             const char *method, const char *objective, double time_limit, int32_t threads,
                             const int64_t *current, double move_cost, int64_t max_moves,
                             const double *recorded, double threshold, double relative_threshold,
                             double min_gain, int64_t max_layers,
                             const char *strategy, int64_t horizon, const char *model, double hedge_k,
                             double smoothing, int64_t period, int64_t order, double ridge,
                             double shift_threshold,
                             int64_t *phy2log, int64_t *priority, int64_t *moves,
                             double *before, double *after, double *recorded_out,
                             char *strategy_used, int64_t strategy_used_capacity,
                             double *wall_seconds,
                             char *message, int64_t message_capacity);

#ifdef __cplusplus
}
#endif

#endif /* EXPERT_PLACEMENT_FORECAST_H */

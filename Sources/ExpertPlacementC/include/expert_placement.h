/*
 * expert_placement.h — the C API of ExpertPlacement (libExpertPlacementC).
 *
 * A small, stable surface over the Swift library for callers in other languages (the Python
 * package in python/ calls it in-process through ctypes). Raw buffers in, raw buffers out:
 *
 *   - Every array is dense, row-major (C order), owned by the caller. The library never keeps a
 *     pointer after a call returns and never allocates memory the caller must free.
 *   - Loads are float64; plans and indices are int64 (as in DeepSeek EPLB and the engines).
 *   - Every call returns EP_OK or an error code, and on error writes a one-line message
 *     ("field: reason") into `message` (NUL-terminated, truncated to `message_capacity` bytes;
 *     `message` may be NULL). On error the output buffers may hold partial data: discard them.
 *   - Calls never abort the process on bad input: shapes, sizes, ids and values are checked first.
 *   - Calls are thread-safe; a call uses all cores unless `threads` limits it, and its results do
 *     not depend on the thread count.
 *
 * Shapes below: L layers, T episodes (time steps or windows), E logical experts, D devices (EP
 * ranks), S slots per device, P = D·S physical slots, W = log2phy width (P − E + 1 holds every
 * possible replica).
 *
 * Methods (strings): "search" (the default: the best one-shot balance), "greedy", "hierarchical"
 * (DeepSeek EPLB's policy: node-then-device when groups divide by nodes, global otherwise).
 * The GLPK exact solver is not part of this library (GLPK is GPL-3; the core stays free of it):
 * use `eplb solve --method exact`.
 * Objectives (strings): "mean" (default), "worst", "aggregate", "peak-sum"; the JSON keys
 * ("meanImbalance", …) are accepted too.
 */
#ifndef EXPERT_PLACEMENT_H
#define EXPERT_PLACEMENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes. */
#define EP_OK 0
/* An argument is out of its domain: a shape, a size, a load, an id, an option, a name. */
#define EP_INVALID_ARGUMENT 1
/* The instance admits no valid placement, or the method cannot handle it. */
#define EP_INFEASIBLE 2
/* The placement breaks a rule (ep_validate only); the message names the first broken rule. */
#define EP_INVALID_PLACEMENT 3
/* An internal failure (a bug: please report it with the message). */
#define EP_INTERNAL_ERROR 4

/* The ABI version of this header (bumped on any incompatible change). */
#define EP_ABI_VERSION 1

/* The ABI version the library was built with; compare it with EP_ABI_VERSION. */
int32_t ep_abi_version(void);

/* The library version ("0.1.0"), a static NUL-terminated string. */
const char *ep_version(void);

/*
 * Places every layer: how many replicas each expert gets and which slot holds each.
 *
 * loads           float64, [L][T][E] when episodes_first == 0, [T][L][E] when 1 (the engines'
 *                 per-iteration dumps); finite and >= 0. T = 1 for a single load matrix [L][E].
 * devices, slots_per_device, nodes, groups
 *                 the topology (nodes and groups are used by "hierarchical" only; 1 and 1 when
 *                 unknown). Checked for every method: slots_per_device <= E <= devices ×
 *                 slots_per_device, nodes divides devices, groups divides E.
 * method, objective
 *                 names (see above); NULL means "search" and "mean".
 * time_limit      seconds for the whole call; <= 0 means the method's default.
 * threads         at most this many threads; 0 means all cores.
 * current         int64 [L][P], the deployed plan, or NULL. With it, the new plan is relabelled
 *                 onto the deployed devices (an expert that stays on a device keeps its slot) and
 *                 move_cost / max_moves trade balance against moved replicas.
 * move_cost       objective units charged per moved replica (0: none). Needs `current`.
 * max_moves       at most this many moved replicas per layer; < 0 means no cap. Needs `current`.
 *
 * Outputs (caller-allocated; any may be NULL except phy2log):
 * phy2log         int64 [L][P]: the logical expert in each physical slot.
 * logcnt          int64 [L][E]: replicas per expert.
 * log2phy         int64 [L][E][log2phy_width]: each expert's slots in ascending order, padded
 *                 with -1; log2phy_width must be >= the largest replica count (P − E + 1 is
 *                 always enough).
 * layer_stats     float64 [L][3]: per layer the objective's value, a proven lower bound on its
 *                 optimum (NaN when none), and the moves against `current` (0 without one).
 * wall_seconds    float64 [1]: the library's own time for the call (checks, solve, metrics).
 */
int32_t ep_solve(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                 int32_t episodes_first,
                 int64_t devices, int64_t slots_per_device, int64_t nodes, int64_t groups,
                 const char *method, const char *objective, double time_limit, int32_t threads,
                 const int64_t *current, double move_cost, int64_t max_moves,
                 int64_t *phy2log, int64_t *logcnt, int64_t *log2phy, int64_t log2phy_width,
                 double *layer_stats, double *wall_seconds,
                 char *message, int64_t message_capacity);

/*
 * ep_solve with a token-drop budget and two more outputs: what each layer's lower bound rests on,
 * so that a gap is read for what it is (`solver.lowerBoundSources` of `eplb solve`'s JSON;
 * docs/FORMATS.md), and each layer's capped imbalance under the budget.
 *
 * drop_budget     NaN or 0: none. Otherwise f in (0, 1): each episode may drop up to a fraction f
 *                 of its tokens at capacity, and the plan minimises the objective with every
 *                 episode's peak replaced by its capped peak (`eplb solve --drop-budget f`: the
 *                 method's plan refined by the drop-aware local search).
 * bound_source    int32 [L], or NULL: per layer EP_BOUND_NONE (no bound: NaN in layer_stats),
 *                 EP_BOUND_ALLOTMENT (per episode the larger of the average device load and the
 *                 min-max allotment, combined as the objective combines peaks, and raised over
 *                 several episodes where one count per expert cannot serve every episode's hot
 *                 experts: the distance to it is an upper limit on the distance to the optimum),
 *                 EP_BOUND_OPTIMUM (the layer's proven optimum: the gap is the true gap) or
 *                 EP_BOUND_EXACT_SEARCH (an exact solver's best bound when it stopped unproven).
 * capped_imbalance
 *                 float64 [L], or NULL: per layer the objective with capped peaks at the drop
 *                 budget (the metrics' `cappedImbalance`); NaN without a budget.
 * Every other argument as in ep_solve.
 */
#define EP_BOUND_NONE 0
#define EP_BOUND_ALLOTMENT 1
#define EP_BOUND_OPTIMUM 2
#define EP_BOUND_EXACT_SEARCH 3
int32_t ep_solve_ex(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                    int32_t episodes_first,
                    int64_t devices, int64_t slots_per_device, int64_t nodes, int64_t groups,
                    const char *method, const char *objective, double time_limit, int32_t threads,
                    const int64_t *current, double move_cost, int64_t max_moves, double drop_budget,
                    int64_t *phy2log, int64_t *logcnt, int64_t *log2phy, int64_t log2phy_width,
                    double *layer_stats, int32_t *bound_source, double *capped_imbalance,
                    double *wall_seconds, char *message, int64_t message_capacity);

/*
 * Rebalances a deployed placement on a window of loads: scores each layer's deployed plan,
 * re-places only the layers the rules select, with few moves (the library's Rebalancer; the same
 * rules as `eplb rebalance`).
 *
 * loads, layers, episodes, experts, episodes_first, devices, slots_per_device, nodes, groups,
 * method, objective, time_limit, threads, move_cost, max_moves
 *                 as in ep_solve; `current` is required.
 * recorded        float64 [L]: each layer's objective value right after its last update (NaN:
 *                 unknown), as returned in recorded_out by the previous call; NULL: all unknown.
 * threshold       re-place a layer whose deployed value is above it (NaN: no such rule).
 * relative_threshold
 *                 r in (0, 1]: re-place a layer whose balance fell below r × its recorded balance
 *                 (FlashLB's rule, 0.9 or 0.85 there; NaN: none). With neither rule, every layer
 *                 is considered.
 * min_gain        keep a new layer plan only when it lowers the value by this fraction (NaN: any
 *                 gain).
 * max_layers      change at most this many layers, best gain per moved replica first (< 0: all).
 *
 * Outputs (caller-allocated; any may be NULL except phy2log):
 * phy2log         int64 [L][P]: the whole new plan (unchanged layers are copied from current).
 * priority        int64 [L]: the changed layers in the order to apply them, then -1.
 * moves           int64 [L]: moved replicas per layer.
 * before, after   float64 [L]: the objective per layer on the window, deployed and new.
 * recorded_out    float64 [L]: pass it as `recorded` to the next call.
 * wall_seconds    float64 [1]: the library's own time for the call.
 */
int32_t ep_rebalance(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                     int32_t episodes_first,
                     int64_t devices, int64_t slots_per_device, int64_t nodes, int64_t groups,
                     const char *method, const char *objective, double time_limit, int32_t threads,
                     const int64_t *current, double move_cost, int64_t max_moves,
                     const double *recorded, double threshold, double relative_threshold,
                     double min_gain, int64_t max_layers,
                     int64_t *phy2log, int64_t *priority, int64_t *moves,
                     double *before, double *after, double *recorded_out, double *wall_seconds,
                     char *message, int64_t message_capacity);

/*
 * A regime memory (the library's RegimeMemory, as `eplb simulate`'s rebalance policy keeps it):
 * the last `windows` windows, each summed into 8 blocks, and which of two plans served better.
 * Pass it to ep_rebalance_ex at every call of one serving loop (one model, one topology; a
 * window of another shape or topology clears it). From the second call on, each call makes a
 * second plan on every remembered window (the newest weighing half) and returns it instead of the
 * window's own plan when the two plans of the previous calls, scored on the windows that followed
 * them, say it serves better. One call at a time per memory; it holds 8·L·E float64 per window.
 *
 * ep_regime_memory_create: `windows` 2 to 4096 (8 is the simulated policy's); writes the new
 * memory to *memory (NULL on error). ep_regime_memory_free: frees it (NULL is ignored).
 */
typedef struct ep_regime_memory ep_regime_memory;

int32_t ep_regime_memory_create(int64_t windows, ep_regime_memory **memory,
                                char *message, int64_t message_capacity);
void ep_regime_memory_free(ep_regime_memory *memory);

/*
 * A measured move price on a memory (the library's PaybackEstimate, `eplb simulate
 * --payback-intervals auto`): at each ep_rebalance_ex call through `memory` the placement the
 * previous call deployed is scored on the new window against the one it replaced; the share ρ
 * of its gain that survived (smoothed over calls) gives a payback horizon k = 1/(1 − ρ) within
 * [min_intervals, max_intervals] (min_intervals until measured), and the call's move cost is
 * unit_price / k instead of `move_cost`. unit_price: the move cost at which a move pays for itself
 * within one interval (≥ 0); 1 ≤ min_intervals ≤ max_intervals (2 and 8 in the simulation).
 * Three more evaluations of the window per call.
 *
 * ep_regime_memory_payback: the horizon the last call used, NaN before the first call or
 * without a measured price.
 */
int32_t ep_regime_memory_set_payback(ep_regime_memory *memory, double unit_price, double min_intervals,
                                     double max_intervals, char *message, int64_t message_capacity);
int32_t ep_regime_memory_payback(ep_regime_memory *memory, double *intervals, char *message,
                                 int64_t message_capacity);

/*
 * ep_rebalance with a regime memory: `memory` (NULL: exactly ep_rebalance) after max_layers, and
 * planned_on int32 [1] after recorded_out (may be NULL): 0 when the plan was made on the window,
 * 1 when it was made on the memory (its before/after/recorded_out then refer to the memory's
 * episodes, as the rules did).
 */
int32_t ep_rebalance_ex(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                        int32_t episodes_first,
                        int64_t devices, int64_t slots_per_device, int64_t nodes, int64_t groups,
                        const char *method, const char *objective, double time_limit, int32_t threads,
                        const int64_t *current, double move_cost, int64_t max_moves,
                        const double *recorded, double threshold, double relative_threshold,
                        double min_gain, int64_t max_layers, ep_regime_memory *memory,
                        int64_t *phy2log, int64_t *priority, int64_t *moves,
                        double *before, double *after, double *recorded_out, int32_t *planned_on,
                        double *wall_seconds, char *message, int64_t message_capacity);

/*
 * Scores a placement on loads: per layer [meanImbalance, worstImbalance, aggregateImbalance,
 * peakSum] into metrics (float64 [L][4]). The plan must give every expert a replica (ids in
 * 0..<E); it need not follow the other rules (use ep_validate for those).
 */
int32_t ep_evaluate(const double *loads, int64_t layers, int64_t episodes, int64_t experts,
                    int32_t episodes_first, int64_t devices, int64_t slots_per_device,
                    const int64_t *phy2log, double *metrics,
                    char *message, int64_t message_capacity);

/*
 * Checks a plan against the rules a serving worker enforces: every expert has a replica, no
 * expert twice on a device, ids in range; with `current` (or NULL), also the rules of a change
 * (an expert that stays on a device keeps its slot), and a layer identical to its deployed row
 * is not checked for an expert twice on a device (a worker checks the layers it changes;
 * DeepSeek EPLB's packing can deploy such a row). Returns EP_OK or EP_INVALID_PLACEMENT with
 * the first broken rule in `message`.
 */
int32_t ep_validate(const int64_t *phy2log, int64_t layers, int64_t experts,
                    int64_t devices, int64_t slots_per_device, const int64_t *current,
                    char *message, int64_t message_capacity);

#ifdef __cplusplus
}
#endif

#endif /* EXPERT_PLACEMENT_H */

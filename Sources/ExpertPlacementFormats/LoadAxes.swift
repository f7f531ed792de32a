/// The order of the axes of a 3-D load array: which axis is the layer, which the episode (or
/// iteration), which the expert.
///
/// A 3-D `.npy` array of shape (a, b, c) is ambiguous: the library's own order is
/// (layers, episodes, experts), but serving engines dump their per-iteration counters as
/// (iterations, layers, experts). Nothing in the file says which, so a 3-D array is read only
/// when the caller names the order (`eplb … --axes lte|tle`); guessing from the sizes would
/// silently transpose a trace whose iteration count happens to be small.
///
/// The order describes 3-D arrays only. A 2-D (L, E) or 1-D (E,) array has one episode, and both
/// orders read it the same way, so either value is accepted there. JSON instances are
/// `[L][T][E]` by contract (INTERFACE.md §3): `.lte` is accepted, `.tle` is refused as a
/// contradiction.
public enum LoadAxes: String, Sendable, CaseIterable {
    /// (layers, episodes, experts): the library's order, `load[l][t][e]`.
    case lte
    /// (iterations, layers, experts): the engines' order, `load[t][l][e]`; transposed on reading
    /// into the library's [L][T][E].
    case tle
}

public import ExpertPlacement

extension NumPyArray {
    /// The loads as a 3-D array in the axis order `axes`: shape (L, T, E) for ``LoadAxes/lte``,
    /// (T, L, E) for ``LoadAxes/tle`` (the engines' per-iteration order).
    ///
    /// Reading the encoded array back with the same `axes` gives `loads` again (exactly for
    /// `float64`, and for `float32` when every value is a float, such as whole counts ≤ 2²⁴).
    ///
    /// - Parameters:
    ///   - loads: the loads `[L][T][E]`.
    ///   - axes: the order of the array's axes.
    ///   - dtype: the element type ``encode()`` writes.
    /// - Complexity: O(L·T·E); `.lte` shares the storage of `loads.values`.
    public init(_ loads: LoadTensor, axes: LoadAxes, dtype: DType = .float32) {
        switch axes {
        case .lte:
            self.init(shape: [loads.layers, loads.episodes, loads.experts], dtype: dtype, values: loads.values)
        case .tle:
            self.init(shape: [loads.episodes, loads.layers, loads.experts], dtype: dtype,
                      values: LoadReader.transposeLeadingAxes(loads.values, loads.layers, loads.episodes, loads.experts))
        }
    }
}

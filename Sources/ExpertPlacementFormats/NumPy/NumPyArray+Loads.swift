public import ExpertPlacement

extension NumPyArray {
    /// Encodes loads as a 3-D `.npy` file in the axis order `axes`: shape (L, T, E) for
    /// ``LoadAxes/lte``, (T, L, E) for ``LoadAxes/tle`` (the engines' per-iteration order).
    ///
    /// The bytes equal those of a ``NumPyArray`` of that shape holding the reordered values, but
    /// no reordered copy is made: each row of `E` values is written straight to its place, so a
    /// trace of 10⁸ values needs only the file's bytes besides the loads. Reading the file back
    /// with the same `axes` gives `loads` again (exactly for `float64`, and for `float32` when
    /// every value is a float, such as whole counts ≤ 2²⁴).
    ///
    /// - Parameters:
    ///   - loads: the loads `[L][T][E]`.
    ///   - axes: the order of the file's axes.
    ///   - dtype: the element type on disk.
    /// - Returns: the file contents.
    /// - Precondition: for `int32`/`int64`, every value is integral and in range (traps otherwise).
    /// - Complexity: O(L·T·E).
    public static func encode(_ loads: LoadTensor, axes: LoadAxes, dtype: DType = .float32) -> [UInt8] {
        let (l, t, e) = (loads.layers, loads.episodes, loads.experts)
        var out = _preamble(shape: axes == .lte ? [l, t, e] : [t, l, e], dtype: dtype)
        let dataStart = out.count
        out.append(contentsOf: repeatElement(0, count: loads.values.count * dtype.byteCount))
        out.withUnsafeMutableBytes { raw in
            let data = UnsafeMutableRawBufferPointer(rebasing: raw[dataStart...])
            loads.values.withUnsafeBufferPointer { src in
                for layer in 0..<l {
                    for episode in 0..<t {
                        let row = UnsafeBufferPointer(rebasing: src[((layer * t + episode) * e)...].prefix(e))
                        let destination = axes == .lte ? (layer * t + episode) * e : (episode * l + layer) * e
                        _store(row, as: dtype, into: data, at: destination)
                    }
                }
            }
        }
        return out
    }
}

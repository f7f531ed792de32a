public import ExpertPlacement

/// Reads window after window of `.npy` loads into one reused buffer — what a serving process
/// that rebalances every interval does.
///
/// A 1,024-iteration window of a DeepSeek-V3-sized model is 15.2 M loads, 122 MB as doubles:
/// allocated afresh for every read, its pages are faulted in anew each time (on the machines
/// measured here that costs more than converting the values, even with the transparent huge
/// pages every fresh decode asks for: 39 ms a read, against 13 ms reused, in the benchmark
/// suite). The reader keeps the buffer of the last window and decodes the next one into it in
/// place when the previous ``LoadTensor`` is no longer held (else the storage is copied first,
/// as for any shared array). Values, their validation and their errors are exactly those of
/// ``InstanceFile/decodeLoads(_:file:axes:)``.
///
/// Not thread-safe: use one reader per thread.
public final class LoadWindowReader {
    /// The axis order of the 3-D arrays read.
    public let axes: LoadAxes
    private var buffer = ContiguousArray<Double>()

    /// Creates a reader for 3-D arrays in `axes` order (`.tle` for the engines' dumps).
    public init(axes: LoadAxes) {
        self.axes = axes
    }

    /// The loads of one `.npy` window.
    ///
    /// - Throws: ``InputError`` naming the file (and the first bad value) as
    ///   ``InstanceFile/decodeLoads(_:file:axes:)`` does.
    public func read(_ bytes: [UInt8], file: String) throws(InputError) -> LoadTensor {
        let parsed: Result<_NumPyDecoder.Layout, NumPyError> = bytes.withUnsafeBytes { raw in
            Result { () throws(NumPyError) -> _NumPyDecoder.Layout in try _NumPyDecoder.layout(raw) }
        }
        guard case .success(let layout) = parsed, layout.shape.count == 3, layout.count > 0 else {
            return try InstanceFile.decodeLoads(bytes, file: file, axes: axes)
        }
        if buffer.count != layout.count {
            buffer = ContiguousArray(unsafeUninitializedCapacity: layout.count) { storage, initialized in
                HugePages.advise(UnsafeMutableRawBufferPointer(storage))
                storage.initialize(repeating: 0)
                initialized = layout.count
            }
        }
        let transposing = axes == .tle
        let valid = bytes.withUnsafeBytes { raw in
            buffer.withUnsafeMutableBufferPointer { out in
                _NumPyDecoder.convert(raw, layout: layout, transposingLeadingAxes: transposing, into: out)
            }
        }
        // A bad value: the ordinary path names it.
        guard valid else { return try InstanceFile.decodeLoads(bytes, file: file, axes: axes) }
        let s = layout.shape
        let (l, t, e) = transposing ? (s[1], s[0], s[2]) : (s[0], s[1], s[2])
        return LoadTensor(layers: l, episodes: t, experts: e, checkedValues: buffer)
    }
}

// NumPyFileDecoder.swift — decoding a `.npy` file on disk by parts, without a copy of its bytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
internal import ExpertPlacement

/// Decodes a regular `.npy` file straight from disk: each part of the array is read with
/// `pread` into a small buffer of its own (1 MiB) and converted from there, on all cores.
///
/// Why not read the file into memory and decode that: a 1,024-iteration window of a
/// DeepSeek-V3-sized model is a 61 MB float32 file. Reading it whole means 61 MB of fresh pages
/// that the kernel zeroes before copying the file into them, then one more pass over them: on
/// the 2-core machine this is measured on, about 50 ms of the 0.33 s an `eplb rebalance` process
/// takes. Parts read into small buffers stay in cache and allocate nothing per part. (A memory
/// map would avoid the copy too, but a file truncated while mapped raises `SIGBUS`, which no
/// error can report; here a file that shrinks meanwhile is reported as truncated.)
///
/// The checks and messages are the in-memory decoder's (``_NumPyDecoder/layout(_:fileSize:)``),
/// and so is the conversion of each piece (``_NumPyDecoder/convertTransposed(_:rows:shape:dtype:bigEndian:into:)``,
/// ``_NumPyDecoder/convertChecked(_:count:dtype:bigEndian:into:)``): the values, their order and
/// the range verdict are identical.
extension _NumPyDecoder {
    /// The bytes of each part's read buffer.
    static let fileChunkBytes = 1 << 20

    /// Decodes the regular file open as `fd`, of `size` bytes.
    ///
    /// - Throws: ``NumPyError`` as the in-memory decoder does, or when the file cannot be read
    ///   or ends early (it changed while it was read).
    static func decodeChecked(file fd: Int32, size: Int,
                              transposingLeadingAxes: Bool) throws(NumPyError) -> (array: NumPyArray, inRange: Bool) {
        // The preamble and header: the first 64 KiB hold them in practice; a longer header is
        // read whole once its length is known.
        var prefix = try read(fd, count: Swift.min(size, 1 << 16), at: 0)
        let (_, dataStart) = try prefix.withUnsafeBytes { raw in Result { () throws(NumPyError) in try preamble(raw) } }.get()
        if dataStart > prefix.count && dataStart <= size { prefix = try read(fd, count: dataStart, at: 0) }
        let layout = try prefix.withUnsafeBytes { raw in
            Result { () throws(NumPyError) in try self.layout(raw, fileSize: size) }
        }.get()
        let transposing = transposingLeadingAxes && layout.shape.count == 3
        var outcome: Result<Bool, NumPyError> = .success(true)
        let values = ContiguousArray<Double>(unsafeUninitializedCapacity: layout.count) { out, initialized in
            HugePages.advise(UnsafeMutableRawBufferPointer(out))
            outcome = convert(file: fd, layout: layout, transposingLeadingAxes: transposing, into: out)
            // Doubles need no deinitialisation: on failure the array is dropped at once.
            initialized = layout.count
        }
        let inRange = try outcome.get()
        let shape = transposing ? [layout.shape[1], layout.shape[0], layout.shape[2]] : layout.shape
        return (NumPyArray(shape: shape, dtype: layout.dtype, values: values), inRange)
    }

    /// Converts every element of the file into `out`, as
    /// ``convert(_:layout:transposingLeadingAxes:into:)`` does from memory: a transposed 3-D
    /// array by file rows (block `(i, j)` of `c` elements goes to `(j, i)`), any other by element
    /// ranges; large arrays in up to 8 parts over the cores.
    static func convert(file fd: Int32, layout: Layout, transposingLeadingAxes: Bool,
                        into out: UnsafeMutableBufferPointer<Double>) -> Result<Bool, NumPyError> {
        let width = layout.dtype.byteCount
        let dtype = layout.dtype, bigEndian = layout.bigEndian, dataStart = layout.dataStart
        let transposed = transposingLeadingAxes && layout.shape.count == 3
        // Units read and converted together: file rows `(i, ·, ·)` of a transposed array, single
        // elements otherwise.
        let (units, unitElements) = transposed ? (layout.shape[0], layout.shape[1] * layout.shape[2]) : (layout.count, 1)
        let parts = layout.count >= 1 << 20 ? Swift.min(units, 8) : 1
        let unitsPerChunk = Swift.max(1, fileChunkBytes / Swift.max(1, unitElements * width))
        nonisolated(unsafe) let target = out
        do {
            let verdicts = try LayerParallelism.map(count: parts) { (part: Int) throws(NumPyError) -> Bool in
                let first = units * part / parts, end = units * (part + 1) / parts
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.min(end - first, unitsPerChunk) * unitElements * width,
                                                                    alignment: 16)
                defer { buffer.deallocate() }
                var valid = true
                var unit = first
                while unit < end {
                    let n = Swift.min(unitsPerChunk, end - unit)
                    let bytes = n * unitElements * width
                    try readExactly(fd, into: buffer.baseAddress!, count: bytes, at: dataStart + unit * unitElements * width)
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<bytes])
                    valid = (transposed
                        ? convertTransposed(chunk, rows: unit ..< unit + n, shape: (layout.shape[0], layout.shape[1], layout.shape[2]),
                                            dtype: dtype, bigEndian: bigEndian, into: target)
                        : convertChecked(chunk, count: n, dtype: dtype, bigEndian: bigEndian,
                                         into: UnsafeMutableBufferPointer(rebasing: target[unit ..< unit + n]))) && valid
                    unit += n
                }
                return valid
            }
            return .success(verdicts.allSatisfy { $0 })
        } catch {
            return .failure(error)
        }
    }

    /// `count` bytes at `offset` (fewer when the file ends first).
    static func read(_ fd: Int32, count: Int, at offset: Int) throws(NumPyError) -> [UInt8] {
        var done = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { (buffer, initialized) throws(NumPyError) in
            done = try readAvailable(fd, into: UnsafeMutableRawPointer(buffer.baseAddress!), count: count, at: offset)
            initialized = done
        }
        return bytes
    }

    /// Reads exactly `count` bytes at `offset`.
    ///
    /// - Throws: ``NumPyError`` when the file cannot be read or ends first.
    static func readExactly(_ fd: Int32, into pointer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws(NumPyError) {
        let done = try readAvailable(fd, into: pointer, count: count, at: offset)
        if done < count {
            throw NumPyError(message: "truncated: the file ended at byte \(offset + done) while its data was read (was it changed meanwhile?)")
        }
    }

    /// Reads up to `count` bytes at `offset` with `pread` (retried when interrupted), stopping at
    /// the end of the file; returns how many were read.
    private static func readAvailable(_ fd: Int32, into pointer: UnsafeMutableRawPointer, count: Int,
                                      at offset: Int) throws(NumPyError) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, pointer + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw NumPyError(message: "cannot be read (\(String(cString: strerror(errno))))")
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

import ExpertPlacement
import Foundation

/// Turns a JSON `load` array or a NumPy array into a ``LoadTensor``, naming each bad value by its
/// index path in the file's own nesting (`load[3][17]` for an [L][E] file).
enum LoadReader {
    /// Reads `load` given as [E], [L][E] or [L][T][E] (`field`: the name errors give the array).
    static func read(_ value: JSONValue, file: String, field: String = "load") throws(InputError) -> LoadTensor {
        // Find the nesting depth by following first elements.
        var depth = 0
        var probe = value
        var path = field
        while case .array(let items) = probe {
            depth += 1
            guard let first = items.first else {
                throw InputError(file: file, field: path, reason: "is empty")
            }
            guard depth <= 3 else {
                throw InputError(file: file, field: field,
                                 reason: "is nested more than 3 deep; expected [E], [L][E] or [L][T][E] numbers")
            }
            probe = first
            path += "[0]"
        }
        guard depth >= 1 else {
            throw InputError(file: file, field: field, reason: "expected an array of numbers ([L][T][E], [L][E] or [E]), found \(value.kindDescription)")
        }
        guard case .number = probe else {
            throw InputError(file: file, field: path, reason: "expected a number, found \(probe.kindDescription)")
        }
        // Shape from the first elements, then a full walk checking every row against it.
        var shape: [Int] = []
        probe = value
        while case .array(let items) = probe {
            shape.append(items.count)
            probe = items[0]
        }
        var values = ContiguousArray<Double>()
        values.reserveCapacity(shape.reduce(1, *))
        try walk(value, level: 0, shape: shape, path: field, values: &values, file: file)
        let (l, t, e): (Int, Int, Int) = switch depth {
        case 1: (1, 1, shape[0])
        case 2: (shape[0], 1, shape[1])
        default: (shape[0], shape[1], shape[2])
        }
        do {
            return try LoadTensor(layers: l, episodes: t, experts: e, values: values)
        } catch {
            throw InputError(file: file, error)  // unreachable: every value was checked by walk
        }
    }

    private static func walk(_ value: JSONValue, level: Int, shape: [Int], path: String,
                             values: inout ContiguousArray<Double>, file: String) throws(InputError) {
        guard case .array(let items) = value else {
            throw InputError(file: file, field: path, reason: "expected an array, found \(describe(value)) (ragged array?)")
        }
        guard items.count == shape[level] else {
            let what = level == shape.count - 1 ? "experts" : level == 0 ? "layers" : "episodes"
            throw InputError(file: file, field: path,
                             reason: "has \(items.count) entries, expected \(shape[level]) \(what) like the first row (ragged array)")
        }
        if level == shape.count - 1 {
            // A parsed row of numbers: append it whole when every value is a valid load; the
            // loop below names the first bad value otherwise.
            if let row = items.numbers, row.withUnsafeBufferPointer(Limits.allInRange) {
                values.append(contentsOf: row)
                return
            }
            for (i, item) in items.enumerated() {
                guard case .number(let x) = item else {
                    throw InputError(file: file, field: "\(path)[\(i)]", reason: "expected a number, found \(item.kindDescription)")
                }
                if let reason = problem(with: x) {
                    throw InputError(file: file, field: "\(path)[\(i)]", reason: reason)
                }
                values.append(x)
            }
        } else {
            for (i, item) in items.enumerated() {
                try walk(item, level: level + 1, shape: shape, path: "\(path)[\(i)]", values: &values, file: file)
            }
        }
    }

    /// Why a load value is invalid, or `nil` when it is fine.
    static func problem(with x: Double) -> String? {
        Limits.magnitudeProblem(x, what: "load")
    }

    /// Reads loads from `.npy` bytes holding an array of shape (E,), (L,E), or a 3-D array in the
    /// order `axes` names: (L,T,E) for `.lte`, (T,L,E) for `.tle` — transposed into [L][T][E] by
    /// the decoder while it converts the elements (one pass, one copy).
    ///
    /// A 3-D array without `axes` is refused: both orders could explain its shape. `axes` is
    /// accepted and has no effect on 2-D and 1-D arrays (one episode: both orders agree). Bad
    /// values are named by their index in the file (`[t][l][e]` for `.tle`).
    static func read(npy bytes: [UInt8], file: String, axes: LoadAxes?) throws(InputError) -> LoadTensor {
        let decoded: Result<(array: NumPyArray, inRange: Bool), NumPyError> = bytes.withUnsafeBytes { raw in
            Result { () throws(NumPyError) in try _NumPyDecoder.decodeChecked(raw, transposingLeadingAxes: axes == .tle) }
        }
        return try tensor(decoded, file: file, axes: axes)
    }

    /// Reads loads from the `.npy` file at `path` as ``read(npy:file:axes:)`` does from its bytes
    /// (same checks, messages and values), decoding it from disk by parts
    /// (``_NumPyDecoder/decodeChecked(file:size:transposingLeadingAxes:)``) instead of reading it
    /// into memory first. `nil` when `path` is standard input, not a regular file, cannot be
    /// opened, or does not start with NumPy's magic: the caller then reads it as any input
    /// (``InputSource``), which reports what is wrong with it.
    static func read(npyFile path: String, axes: LoadAxes?) throws(InputError) -> LoadTensor? {
        guard path != "-" else { return nil }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        var fd: Int32
        // Non-blocking, in case the path became a named pipe since `stat` (opening one would wait
        // for a writer); reads of a regular file do not block either way.
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size >= 6 else { return nil }
        var magic = [UInt8](repeating: 0, count: 6)
        guard pread(fd, &magic, 6, 0) == 6, magic == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else { return nil }
        let file = InputSource.displayName(path)
        guard UInt64(info.st_size) <= InputSource.memoryLimit else { throw InputSource.tooLarge(file) }
        let size = Int(info.st_size)
        let decoded = Result { () throws(NumPyError) in
            try _NumPyDecoder.decodeChecked(file: fd, size: size, transposingLeadingAxes: axes == .tle)
        }
        return try tensor(decoded, file: file, axes: axes)
    }

    /// The loads of a decoded `.npy` array: its shape and values checked, a 3-D one refused
    /// without `axes`, every bad value named by its index in the file.
    private static func tensor(_ decoded: Result<(array: NumPyArray, inRange: Bool), NumPyError>, file: String,
                               axes: LoadAxes?) throws(InputError) -> LoadTensor {
        let array: NumPyArray, inRange: Bool
        do { (array, inRange) = try decoded.get() } catch {
            throw InputError(file: file, reason: error.message)
        }
        let transposed = axes == .tle && array.shape.count == 3
        let shape = transposed ? [array.shape[1], array.shape[0], array.shape[2]] : array.shape  // the file's
        let shapeText = "(\(shape.map(String.init).joined(separator: ", ")))"
        guard (1...3).contains(shape.count) else {
            throw InputError(file: file, reason: "array of shape \(shapeText) is not supported: expected (L, T, E), (T, L, E) with --axes, (L, E) or (E,)")
        }
        if let zero = shape.firstIndex(of: 0) {
            throw InputError(file: file, reason: "array of shape \(shapeText) is empty along axis \(zero)")
        }
        if shape.count == 3 && axes == nil {
            throw InputError(file: file, reason: "the shape \(shapeText) could be [layers][episodes][experts] or [iterations][layers][experts]; pass --axes lte or --axes tle")
        }
        // The decoder checked every value as it converted it (the common case: every value is a
        // valid load); the slow scan below runs only to name the first bad value.
        if !inRange {
            for (i, x) in array.values.enumerated() {
                if let reason = problem(with: x) {
                    var index: [Int] = []
                    var rest = i
                    for extent in array.shape.reversed() {
                        index.append(rest % extent)
                        rest /= extent
                    }
                    if transposed { index.swapAt(1, 2) }  // reversed (e, t, l) → file order (e, l, t)
                    throw InputError(file: file, field: "load" + index.reversed().map { "[\($0)]" }.joined(), reason: reason)
                }
            }
        }
        let s = array.shape  // [L][T][E] order now
        let (l, t, e): (Int, Int, Int) = switch s.count {
        case 1: (1, 1, s[0])
        case 2: (s[0], 1, s[1])
        default: (s[0], s[1], s[2])
        }
        // Every value was checked above.
        return LoadTensor(layers: l, episodes: t, experts: e, checkedValues: array.values)
    }
}

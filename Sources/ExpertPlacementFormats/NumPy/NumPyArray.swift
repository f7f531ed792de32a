// NumPyArray.swift — reading and writing NumPy `.npy` files (format versions 1.0, 2.0, 3.0).

internal import ExpertPlacement

/// A dense numeric array read from or written to a NumPy `.npy` file.
///
/// Values are held as `Double` in C (row-major) order whatever the element type on disk;
/// ``dtype`` records the on-disk type. Conversions to `Double` are exact for `float32`,
/// `float64` and `int32`; `int64` values with magnitude above 2^53 are rounded to the
/// nearest `Double` (ties to even). NaN and infinities are passed through unchanged; callers
/// that need finite data check for themselves.
///
/// A rank-0 (scalar) array has `shape == []` and one value.
///
/// Equality compares shape, dtype and values with `Double.==` (so arrays containing NaN are
/// never equal).
public struct NumPyArray: Sendable, Equatable {
    /// The element types this type can read and write.
    public enum DType: String, Sendable, CaseIterable {
        /// 32-bit IEEE float (`'<f4'`).
        case float32
        /// 64-bit IEEE float (`'<f8'`).
        case float64
        /// 32-bit signed integer (`'<i4'`).
        case int32
        /// 64-bit signed integer (`'<i8'`).
        case int64

        /// Size of one element in bytes.
        public var byteCount: Int {
            switch self {
            case .float32, .int32: return 4
            case .float64, .int64: return 8
            }
        }

        /// The little-endian NumPy type string, e.g. `"<f8"`.
        public var descr: String {
            switch self {
            case .float32: return "<f4"
            case .float64: return "<f8"
            case .int32: return "<i4"
            case .int64: return "<i8"
            }
        }
    }

    /// The dimensions, outermost first. `[]` for a scalar.
    public var shape: [Int]
    /// The element type on disk.
    public var dtype: DType
    /// All elements in C order, converted to `Double`. `values.count` is the product of
    /// ``shape`` (1 for a scalar).
    public var values: ContiguousArray<Double>

    /// Creates an array.
    ///
    /// - Parameters:
    ///   - shape: the dimensions; each must be non-negative.
    ///   - dtype: the element type used by ``encode()``.
    ///   - values: the elements in C order.
    /// - Precondition: all dimensions are non-negative and their product equals `values.count`.
    public init(shape: [Int], dtype: DType, values: ContiguousArray<Double>) {
        precondition(shape.allSatisfy { $0 >= 0 }, "NumPyArray: negative dimension in shape \(shape)")
        precondition(_elementCount(shape) == values.count,
                     "NumPyArray: shape \(_pythonShape(shape)) needs \(_elementCount(shape) ?? -1) values, got \(values.count)")
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }

    /// Decodes a complete `.npy` file.
    ///
    /// Accepts format versions 1.x (2-byte header length) and 2.x/3.x (4-byte header length);
    /// a header dict with keys in any order, single or double quotes, any whitespace and an
    /// optional trailing comma; descr `<f4 <f8 <i4 <i8`, the same with `>` (big-endian, byte
    /// swapped on load), `=` or no prefix (native, little-endian on supported platforms).
    /// `fortran_order: True` is accepted only for rank ≤ 1 (where the layout is identical).
    /// Unknown extra header keys are ignored.
    ///
    /// - Parameter bytes: the whole file.
    /// - Returns: the array, with values converted to `Double`.
    /// - Throws: ``NumPyError`` with a one-line, actionable message: not a `.npy` file,
    ///   unsupported version, malformed header, unsupported dtype (including 1-byte `|` types
    ///   and object arrays), Fortran order, truncated data, or extra bytes after the data.
    /// - Complexity: O(n) in the file size.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(NumPyError) -> NumPyArray {
        try _NumPyDecoder.decode(bytes)
    }

    /// Decodes a complete `.npy` file held in an array.
    ///
    /// See the `UnsafeRawBufferPointer` overload for what is accepted.
    ///
    /// - Parameter bytes: the whole file.
    /// - Returns: the array, with values converted to `Double`.
    /// - Throws: ``NumPyError`` with a one-line, actionable message.
    /// - Complexity: O(n) in the file size.
    public static func decode(_ bytes: [UInt8]) throws(NumPyError) -> NumPyArray {
        let result: Result<NumPyArray, NumPyError> = bytes.withUnsafeBytes { raw in
            Result { () throws(NumPyError) -> NumPyArray in try _NumPyDecoder.decode(raw) }
        }
        return try result.get()
    }

    /// Encodes the array as a `.npy` file, byte-for-byte as `numpy.save` writes it.
    ///
    /// Format version 1.0 (2.0 if the header would exceed 65535 bytes), little-endian
    /// ``dtype``, C order, header padded with spaces and a final `"\n"` so that the data
    /// starts at a multiple of 64 bytes. `float32` values are rounded to the nearest `Float`.
    ///
    /// - Returns: the file contents.
    /// - Precondition: `values.count` matches ``shape``; for `int32`/`int64`, every value is
    ///   integral and in range of the type (anything else is a programmer error and traps).
    /// - Complexity: O(n) in the number of values.
    public func encode() -> [UInt8] {
        precondition(_elementCount(shape) == values.count,
                     "NumPyArray.encode: shape \(_pythonShape(shape)) does not match \(values.count) values")
        var out = Self._preamble(shape: shape, dtype: dtype)
        let dataStart = out.count
        out.append(contentsOf: repeatElement(0, count: values.count * dtype.byteCount))
        out.withUnsafeMutableBytes { raw in
            values.withUnsafeBufferPointer { src in
                Self._store(src, as: dtype, into: UnsafeMutableRawBufferPointer(rebasing: raw[dataStart...]), at: 0)
            }
        }
        return out
    }

    /// Magic, version, header length and the header padded with spaces and `"\n"` so that the
    /// data starts at a multiple of 64 bytes: everything of a `.npy` file before its data.
    static func _preamble(shape: [Int], dtype: DType) -> [UInt8] {
        var header = "{'descr': '\(dtype.descr)', 'fortran_order': False, 'shape': \(_pythonShape(shape)), }"
        // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21).
        if let first = shape.first {
            header += String(repeating: " ", count: max(0, 21 - String(first).utf8.count))
        }
        let headerBytes = Array(header.utf8)
        let hlen = headerBytes.count + 1  // + final "\n"
        var lengthFieldSize = 2
        var padding = 64 - ((8 + lengthFieldSize + hlen) % 64)
        if hlen + padding > 65535 {
            lengthFieldSize = 4
            padding = 64 - ((8 + lengthFieldSize + hlen) % 64)
        }
        let totalHeader = hlen + padding
        var out: [UInt8] = []
        out.reserveCapacity(8 + lengthFieldSize + totalHeader + (_elementCount(shape) ?? 0) * dtype.byteCount)
        out.append(contentsOf: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59])  // \x93NUMPY
        out.append(lengthFieldSize == 2 ? 1 : 2)
        out.append(0)
        for k in 0..<lengthFieldSize { out.append(UInt8(truncatingIfNeeded: totalHeader >> (8 * k))) }
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: repeatElement(0x20, count: padding))
        out.append(0x0A)
        return out
    }

    /// Stores `src` little-endian as `dtype` into the data area `dst`, from element `first` on.
    ///
    /// - Precondition: for `int32`/`int64`, every value is integral and in range (traps otherwise).
    static func _store(_ src: UnsafeBufferPointer<Double>, as dtype: DType, into dst: UnsafeMutableRawBufferPointer, at first: Int) {
        switch dtype {
        case .float64:
            for (k, v) in src.enumerated() {
                dst.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: (first + k) * 8, as: UInt64.self)
            }
        case .float32:
            for (k, v) in src.enumerated() {
                dst.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: (first + k) * 4, as: UInt32.self)
            }
        case .int32:
            for (k, v) in src.enumerated() {
                guard let wide = _exactInt64(v), let n = Int32(exactly: wide) else {
                    preconditionFailure("NumPyArray.encode: value \(v) at index \(first + k) is not an int32")
                }
                dst.storeBytes(of: n.littleEndian, toByteOffset: (first + k) * 4, as: Int32.self)
            }
        case .int64:
            for (k, v) in src.enumerated() {
                guard let n = _exactInt64(v) else {
                    preconditionFailure("NumPyArray.encode: value \(v) at index \(first + k) is not an int64")
                }
                dst.storeBytes(of: n.littleEndian, toByteOffset: (first + k) * 8, as: Int64.self)
            }
        }
    }
}

/// A `.npy` decoding error with a one-line message a user can act on, e.g.
/// `unsupported dtype '<u2' (supported: float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8')`.
public struct NumPyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The complete one-line message.
    public var message: String

    /// Creates an error with the given message.
    ///
    /// - Parameter message: a one-line description of the problem.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

// MARK: - Implementation

/// Product of the dimensions, or nil on overflow or a negative dimension.
internal func _elementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (m, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = m
    }
    return n
}

/// Python `repr` of a shape tuple: `()`, `(5,)`, `(2, 3)`.
internal func _pythonShape(_ shape: [Int]) -> String {
    switch shape.count {
    case 0: return "()"
    case 1: return "(\(shape[0]),)"
    default: return "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}

internal enum _NumPyDecoder {
    /// A value of the Python literal subset used in `.npy` headers.
    indirect enum Literal {
        case string(String)
        case int(Int)
        case bool(Bool)
        case none
        case tuple([Literal])
        case list([Literal])
        case dict([(key: Literal, value: Literal)])

        var kind: String {
            switch self {
            case .string: return "a string"
            case .int: return "an integer"
            case .bool: return "True/False"
            case .none: return "None"
            case .tuple: return "a tuple"
            case .list: return "a list"
            case .dict: return "a dict"
            }
        }
    }

    static let supportedList = "supported: float32 '<f4', float64 '<f8', int32 '<i4', int64 '<i8'"

    static func malformed(_ detail: String) -> NumPyError {
        NumPyError(message: "malformed header: \(detail)")
    }

    /// Where a `.npy` file's elements are and what they are.
    struct Layout {
        var shape: [Int]
        var dtype: NumPyArray.DType
        var bigEndian: Bool
        /// Byte offset of the first element.
        var dataStart: Int
        /// Number of elements.
        var count: Int
    }

    /// Decodes; with `transposingLeadingAxes` a 3-D array `(a, b, c)` comes back as `(b, a, c)`
    /// (its first two axes swapped) in the same pass that converts its elements.
    static func decode(_ bytes: UnsafeRawBufferPointer, transposingLeadingAxes: Bool = false) throws(NumPyError) -> NumPyArray {
        try decodeChecked(bytes, transposingLeadingAxes: transposingLeadingAxes).array
    }

    /// ``decode(_:transposingLeadingAxes:)``, with whether every value is 0 or in ``Limits``'
    /// range (checked block by block as ``convert(_:layout:transposingLeadingAxes:into:)``
    /// converts, so a reader of loads need not scan the values again).
    static func decodeChecked(_ bytes: UnsafeRawBufferPointer,
                              transposingLeadingAxes: Bool) throws(NumPyError) -> (array: NumPyArray, inRange: Bool) {
        let layout = try self.layout(bytes)
        let transposing = transposingLeadingAxes && layout.shape.count == 3
        var inRange = false
        let values = ContiguousArray<Double>(unsafeUninitializedCapacity: layout.count) { out, initialized in
            HugePages.advise(UnsafeMutableRawBufferPointer(out))
            inRange = convert(bytes, layout: layout, transposingLeadingAxes: transposing, into: out)
            initialized = layout.count
        }
        let shape = transposing ? [layout.shape[1], layout.shape[0], layout.shape[2]] : layout.shape
        return (NumPyArray(shape: shape, dtype: layout.dtype, values: values), inRange)
    }

    /// Converts every element of a file with `layout` into `out` (`layout.count` places), a 3-D
    /// array's first two axes swapped when `transposingLeadingAxes` (each run of `c` elements
    /// moves as a block: block `(i, j)` of the file goes to `(j, i)`).
    static func convert(_ bytes: UnsafeRawBufferPointer, layout: Layout, transposingLeadingAxes: Bool,
                        into out: UnsafeMutableBufferPointer<Double>) -> Bool {
        let data = UnsafeRawBufferPointer(rebasing: bytes[layout.dataStart...])
        // Each block is checked right after it is converted, while it is still in cache: the
        // result says whether every value is 0 or in ``Limits``' range (one pass over memory
        // instead of two).
        guard transposingLeadingAxes && layout.shape.count == 3 else {
            var valid = true
            let chunk = 1 << 14
            var start = 0
            while start < layout.count {
                let n = Swift.min(chunk, layout.count - start)
                let block = UnsafeRawBufferPointer(rebasing: data[(start * layout.dtype.byteCount)...])
                valid = convertChecked(block, count: n, dtype: layout.dtype, bigEndian: layout.bigEndian,
                                       into: UnsafeMutableBufferPointer(rebasing: out[start ..< start + n])) && valid
                start += n
            }
            return valid
        }
        let (a, b, c) = (layout.shape[0], layout.shape[1], layout.shape[2])
        // Large windows (a 1,024-iteration dump of a V3-sized model is 15 M values) are split by
        // file rows over the cores; every part writes its own blocks of `out`.
        let parts = layout.count >= 1 << 20 ? Swift.min(a, 8) : 1
        nonisolated(unsafe) let source = data, target = out
        let dtype = layout.dtype, bigEndian = layout.bigEndian
        let verdicts = LayerParallelism.map(count: parts) { (part: Int) -> Bool in
            let rows = (a * part / parts) ..< (a * (part + 1) / parts)
            return convertTransposed(UnsafeRawBufferPointer(rebasing: source[(rows.lowerBound * b * c * dtype.byteCount)...]),
                                     rows: rows, shape: (a, b, c), dtype: dtype, bigEndian: bigEndian, into: target)
        }
        return verdicts.allSatisfy { $0 }
    }

    /// Converts `count` elements of `data` into `out` (``convert(_:count:dtype:bigEndian:into:)``)
    /// and checks them while they are in cache: whether every value is 0 or in ``Limits``' range.
    static func convertChecked(_ data: UnsafeRawBufferPointer, count: Int, dtype: NumPyArray.DType, bigEndian: Bool,
                               into out: UnsafeMutableBufferPointer<Double>) -> Bool {
        convert(data, count: count, dtype: dtype, bigEndian: bigEndian, into: out)
        return Limits.allInRange(UnsafeBufferPointer(rebasing: out[0 ..< count]))
    }

    /// Converts file rows `rows` of an `(a, b, c)` array, held in `data` from row `rows.lowerBound`
    /// on, into `out` with the first two axes swapped (block `(i, j)` of `c` elements goes to
    /// `(j, i)`), checking each block; whether every value is 0 or in range.
    static func convertTransposed(_ data: UnsafeRawBufferPointer, rows: Range<Int>, shape: (Int, Int, Int),
                                  dtype: NumPyArray.DType, bigEndian: Bool,
                                  into out: UnsafeMutableBufferPointer<Double>) -> Bool {
        let (a, b, c) = shape
        var valid = true
        for i in rows {
            for j in 0..<b {
                let block = UnsafeRawBufferPointer(rebasing: data[(((i - rows.lowerBound) * b + j) * c * dtype.byteCount)...])
                valid = convertChecked(block, count: c, dtype: dtype, bigEndian: bigEndian,
                                       into: UnsafeMutableBufferPointer(rebasing: out[((j * a + i) * c) ..< ((j * a + i) * c + c)]))
                    && valid
            }
        }
        return valid
    }

    /// Parses and checks the preamble (magic, version, header length): where the header and the
    /// data start. Needs the first 12 bytes at most.
    static func preamble(_ bytes: UnsafeRawBufferPointer) throws(NumPyError) -> (headerStart: Int, dataStart: Int) {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 6, (0..<6).allSatisfy({ bytes[$0] == magic[$0] }) else {
            throw NumPyError(message: "not a NumPy .npy file (missing the \\x93NUMPY magic)")
        }
        guard bytes.count >= 8 else {
            throw NumPyError(message: "truncated: the file ends inside the .npy preamble")
        }
        let major = bytes[6]
        let minor = bytes[7]
        let lengthFieldSize: Int
        switch major {
        case 1: lengthFieldSize = 2
        case 2, 3: lengthFieldSize = 4
        default:
            throw NumPyError(message: "unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        guard bytes.count >= 8 + lengthFieldSize else {
            throw NumPyError(message: "truncated: the file ends inside the .npy preamble")
        }
        var headerLength = 0
        for k in 0..<lengthFieldSize { headerLength |= Int(bytes[8 + k]) << (8 * k) }
        let headerStart = 8 + lengthFieldSize
        return (headerStart, headerStart + headerLength)
    }

    /// Parses and checks the preamble and header: shape, dtype, byte order, where the data starts.
    ///
    /// - Parameters:
    ///   - bytes: the file, or (with `fileSize`) its first bytes, at least through the header.
    ///   - fileSize: the whole file's size when `bytes` is only its beginning (`nil`: `bytes` is
    ///     the whole file); the data's size is checked against it.
    static func layout(_ bytes: UnsafeRawBufferPointer, fileSize: Int? = nil) throws(NumPyError) -> Layout {
        let total = fileSize ?? bytes.count
        let (headerStart, dataStart) = try preamble(bytes)
        guard dataStart <= total else {
            throw NumPyError(message: "truncated: the header says it is \(dataStart - headerStart) bytes but the file ends after \(total - headerStart)")
        }
        // A file read by parts that shrank between its size and its header: as truncated.
        guard dataStart <= bytes.count else {
            throw NumPyError(message: "truncated: the header says it is \(dataStart - headerStart) bytes but the file ends after \(bytes.count - headerStart)")
        }

        // Parse the header dict.
        var parser = HeaderParser(bytes: UnsafeRawBufferPointer(rebasing: bytes[headerStart..<dataStart]))
        let header = try parser.parseHeader()

        var descrValue: Literal?
        var fortranValue: Literal?
        var shapeValue: Literal?
        for (key, value) in header {
            switch key {
            case "descr": descrValue = value
            case "fortran_order": fortranValue = value
            case "shape": shapeValue = value
            default: break  // ignore unknown keys
            }
        }
        guard let descrValue else { throw malformed("missing 'descr'") }
        guard let fortranValue else { throw malformed("missing 'fortran_order'") }
        guard let shapeValue else { throw malformed("missing 'shape'") }

        // descr
        let descr: String
        switch descrValue {
        case .string(let s): descr = s
        case .list, .tuple:
            throw NumPyError(message: "structured (record) arrays are not supported: save a plain numeric array")
        default:
            throw malformed("'descr' must be a string, found \(descrValue.kind)")
        }
        let (dtype, bigEndian) = try parseDescr(descr)

        // shape
        let shapeElements: [Literal]
        switch shapeValue {
        case .tuple(let e), .list(let e): shapeElements = e
        default: throw malformed("'shape' must be a tuple of integers, found \(shapeValue.kind)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeElements.count)
        for element in shapeElements {
            guard case .int(let d) = element else {
                throw malformed("'shape' must be a tuple of integers, found \(element.kind) in it")
            }
            guard d >= 0 else { throw malformed("negative dimension \(d) in 'shape'") }
            shape.append(d)
        }

        // fortran_order
        guard case .bool(let fortran) = fortranValue else {
            throw malformed("'fortran_order' must be True or False, found \(fortranValue.kind)")
        }
        if fortran && shape.count > 1 {
            throw NumPyError(message: "Fortran-order arrays are not supported: save with numpy.ascontiguousarray")
        }

        // data size
        guard let count = _elementCount(shape) else {
            throw malformed("shape \(_pythonShape(shape)) is too large")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        if overflow { throw malformed("shape \(_pythonShape(shape)) is too large") }
        let available = total - dataStart
        if available < byteCount {
            throw NumPyError(message: "truncated: the header says shape \(_pythonShape(shape)) of \(dtype.rawValue) = \(byteCount) bytes of data but the file holds \(available)")
        }
        if available > byteCount {
            throw NumPyError(message: "extra bytes after the array data: the header says shape \(_pythonShape(shape)) of \(dtype.rawValue) = \(byteCount) bytes but the file holds \(available)")
        }

        return Layout(shape: shape, dtype: dtype, bigEndian: bigEndian, dataStart: dataStart, count: count)
    }

    /// Maps a descr string to a dtype and byte order.
    static func parseDescr(_ descr: String) throws(NumPyError) -> (NumPyArray.DType, bigEndian: Bool) {
        let unsupported = NumPyError(message: "unsupported dtype '\(descr)' (\(supportedList))")
        var rest = Substring(descr)
        var order: Character = "="
        if let f = rest.first, "<>=|".contains(f) {
            order = f
            rest = rest.dropFirst()
        }
        if rest.first == "O" {
            throw NumPyError(message: "object arrays are not supported: save a numeric array (e.g. numpy.asarray(x, dtype=numpy.float64))")
        }
        if order == "|" { throw unsupported }
        let dtype: NumPyArray.DType
        switch rest {
        case "f4": dtype = .float32
        case "f8": dtype = .float64
        case "i4": dtype = .int32
        case "i8": dtype = .int64
        default: throw unsupported
        }
        // '=' and no prefix mean native order; all supported platforms are little-endian.
        return (dtype, order == ">")
    }

    /// Converts the first `count` raw elements of `data` to `Double`s in the first `count` places
    /// of `out` (initialising them).
    static func convert(_ data: UnsafeRawBufferPointer, count: Int, dtype: NumPyArray.DType, bigEndian: Bool,
                        into out: UnsafeMutableBufferPointer<Double>) {
        do {
            guard count > 0, let dst = out.baseAddress else { return }
            switch dtype {
            case .float64:
                if !bigEndian && 1.littleEndian == 1 {
                    UnsafeMutableRawPointer(dst).copyMemory(from: data.baseAddress!, byteCount: count * 8)
                } else {
                    for k in 0..<count {
                        let raw = data.loadUnaligned(fromByteOffset: k * 8, as: UInt64.self)
                        dst[k] = Double(bitPattern: bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw))
                    }
                }
            case .float32:
                if !bigEndian && 1.littleEndian == 1 {
                    // The engines' dumps: a plain widening loop the compiler vectorises.
                    let src = data.baseAddress!
                    for k in 0..<count {
                        dst[k] = Double(src.loadUnaligned(fromByteOffset: k &* 4, as: Float.self))
                    }
                } else {
                    for k in 0..<count {
                        let raw = data.loadUnaligned(fromByteOffset: k * 4, as: UInt32.self)
                        dst[k] = Double(Float(bitPattern: bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)))
                    }
                }
            case .int32:
                for k in 0..<count {
                    let raw = data.loadUnaligned(fromByteOffset: k * 4, as: UInt32.self)
                    dst[k] = Double(Int32(bitPattern: bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)))
                }
            case .int64:
                for k in 0..<count {
                    let raw = data.loadUnaligned(fromByteOffset: k * 8, as: UInt64.self)
                    dst[k] = Double(Int64(bitPattern: bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)))
                }
            }
        }
    }

    /// A tiny parser for the Python literal subset used in `.npy` headers.
    struct HeaderParser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func skipWhitespace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 {
                i += 1
            }
        }

        func found() -> String {
            guard i < bytes.count else { return "the end of the header" }
            let b = bytes[i]
            if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
            return "byte 0x" + _hex2(b)
        }

        /// Parses the whole header: one dict with string keys, then only whitespace.
        mutating func parseHeader() throws(NumPyError) -> [(String, Literal)] {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else {
                throw malformed("expected a dict starting with '{', found \(found())")
            }
            guard case .dict(let pairs) = try parseValue(depth: 0) else {
                throw malformed("expected a dict")
            }
            skipWhitespace()
            if i < bytes.count {
                throw malformed("unexpected \(found()) after the header dict")
            }
            var result: [(String, Literal)] = []
            for (key, value) in pairs {
                guard case .string(let name) = key else {
                    throw malformed("dict keys must be strings, found \(key.kind)")
                }
                if result.contains(where: { $0.0 == name }) {
                    throw malformed("duplicate key '\(name)'")
                }
                result.append((name, value))
            }
            return result
        }

        mutating func parseValue(depth: Int) throws(NumPyError) -> Literal {
            guard depth < 16 else { throw malformed("nested too deeply") }
            skipWhitespace()
            guard i < bytes.count else { throw malformed("unexpected end of the header") }
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                return .string(try parseString(quote: c))
            case UInt8(ascii: "("):
                i += 1
                let (elements, sawComma) = try parseSequence(close: UInt8(ascii: ")"), depth: depth)
                // `(5)` is just 5 in Python; `(5,)` is a tuple.
                if elements.count == 1 && !sawComma { return elements[0] }
                return .tuple(elements)
            case UInt8(ascii: "["):
                i += 1
                return .list(try parseSequence(close: UInt8(ascii: "]"), depth: depth).0)
            case UInt8(ascii: "{"):
                i += 1
                var pairs: [(key: Literal, value: Literal)] = []
                while true {
                    skipWhitespace()
                    if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(pairs) }
                    let key = try parseValue(depth: depth + 1)
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else {
                        throw malformed("expected ':' after a dict key, found \(found())")
                    }
                    i += 1
                    let value = try parseValue(depth: depth + 1)
                    pairs.append((key, value))
                    skipWhitespace()
                    guard i < bytes.count else { throw malformed("unexpected end of the header inside the dict") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(pairs) }
                    throw malformed("expected ',' or '}' in the dict, found \(found())")
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .int(try parseInt())
            default:
                if match("True") { return .bool(true) }
                if match("False") { return .bool(false) }
                if match("None") { return .none }
                throw malformed("unexpected \(found())")
            }
        }

        mutating func match(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { return false }
            // Must not run into an identifier character.
            if i + n < bytes.count {
                let b = bytes[i + n]
                if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F { return false }
            }
            i += n
            return true
        }

        /// Parses elements up to `close`; returns them and whether any comma was seen.
        mutating func parseSequence(close: UInt8, depth: Int) throws(NumPyError) -> ([Literal], Bool) {
            var elements: [Literal] = []
            var sawComma = false
            while true {
                skipWhitespace()
                if i < bytes.count && bytes[i] == close { i += 1; return (elements, sawComma) }
                elements.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard i < bytes.count else { throw malformed("unexpected end of the header inside a tuple or list") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; sawComma = true; continue }
                if bytes[i] == close { i += 1; return (elements, sawComma) }
                throw malformed("expected ',' or '\(Character(Unicode.Scalar(close)))', found \(found())")
            }
        }

        mutating func parseInt() throws(NumPyError) -> Int {
            var negative = false
            if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
            let start = i
            var v = 0
            while i < bytes.count, bytes[i] >= 0x30 && bytes[i] <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(bytes[i] - 0x30))
                if o1 || o2 { throw malformed("integer too large") }
                v = s
                i += 1
            }
            if i == start { throw malformed("expected a digit, found \(found())") }
            // Python 2 long suffix, as in old headers: (3L, 4L)
            if i < bytes.count && bytes[i] == UInt8(ascii: "L") { i += 1 }
            return negative ? -v : v
        }

        mutating func parseString(quote: UInt8) throws(NumPyError) -> String {
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let b = bytes[i]
                if b == quote {
                    i += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if b == UInt8(ascii: "\\") && i + 1 < bytes.count {
                    out.append(bytes[i + 1])
                    i += 2
                    continue
                }
                if b == 0x0A { break }
                out.append(b)
                i += 1
            }
            throw malformed("unterminated string")
        }
    }
}

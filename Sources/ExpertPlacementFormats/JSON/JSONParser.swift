// JSONParser.swift — a fast, strict RFC 8259 JSON parser working on raw UTF-8 bytes.

/// A JSON syntax error with the position where it was detected.
///
/// ``line`` and ``column`` are 1-based; ``column`` counts Unicode characters (not bytes)
/// from the start of the line. ``offset`` is the 0-based byte offset into the input.
/// ``description`` is a single line suitable for showing to a user, e.g.
/// `line 3, column 17: expected ',' or ']' in array`. Errors that happen at the end of
/// the input (a truncated file) and the empty-input error are described without a
/// position: `unexpected end of input (the file is truncated?)`, `the input is empty`.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number of the error position.
    public var line: Int
    /// 1-based column (in characters) of the error position.
    public var column: Int
    /// 0-based byte offset of the error position in the input.
    public var offset: Int
    /// What went wrong, without the position, e.g. `expected ',' or ']' in array`.
    public var message: String
    /// `true` if the error position is the end of the input (or the input is empty); then
    /// ``description`` omits the line and column.
    public var isAtEndOfInput: Bool

    /// Creates an error value.
    ///
    /// - Parameters:
    ///   - line: 1-based line.
    ///   - column: 1-based column in characters.
    ///   - offset: 0-based byte offset.
    ///   - message: the position-less message.
    ///   - isAtEndOfInput: whether the error is at the end of the input.
    public init(line: Int, column: Int, offset: Int, message: String, isAtEndOfInput: Bool = false) {
        self.line = line
        self.column = column
        self.offset = offset
        self.message = message
        self.isAtEndOfInput = isAtEndOfInput
    }

    /// One line: `line L, column C: message`, or just the message at end of input.
    public var description: String {
        isAtEndOfInput ? message : "line \(line), column \(column): \(message)"
    }
}

/// Parses JSON text (RFC 8259) into ``JSONValue``.
///
/// Strictness and extensions:
/// - Rejected: trailing text after the top-level value, leading zeros (`01`), `+1`, `.5`,
///   `1.`, trailing commas, comments, single quotes, unescaped control characters in strings,
///   invalid UTF-8 inside strings, lone UTF-16 surrogates in `\u` escapes (an error, not a
///   replacement character), duplicate keys in one object (the error names the key), and
///   nesting deeper than ``maximumDepth`` (reported as an error; the parser is iterative, so
///   deep input never overflows the stack).
/// - Accepted: a UTF-8 byte-order mark at the very start; any whitespace allowed by the RFC
///   (space, tab, CR, LF); the non-standard tokens `NaN`, `Infinity` and `-Infinity` (written
///   by Python's `json.dump`), which become `.number(.nan)`, `.number(.infinity)` and
///   `.number(-.infinity)` so that the caller can reject them with a message naming the
///   field (e.g. "load[0][1][2] is NaN").
/// - Numbers are converted to the nearest `Double`, giving exactly the value
///   `Double(String)` gives for the same text. Literals too large for `Double` (`1e999`)
///   become ±infinity; too-small ones become ±0 or a subnormal.
public enum JSONParser {
    /// The maximum nesting depth of arrays and objects (the top-level container is depth 1).
    public static let maximumDepth = 512

    /// Parses one JSON document from UTF-8 bytes.
    ///
    /// - Parameter bytes: the complete document, UTF-8 encoded (optionally starting with a BOM).
    /// - Returns: the top-level value (which may be a scalar).
    /// - Throws: ``JSONParseError`` with the position and a one-line message.
    /// - Complexity: O(n) in the input size.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONParseError(line: 1, column: 1, offset: 0, message: "the input is empty", isAtEndOfInput: true)
        }
        var core = _JSONParserCore(base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        return try core.parseDocument()
    }

    /// Parses one JSON document from an array of UTF-8 bytes.
    ///
    /// - Parameter data: the complete document, UTF-8 encoded (optionally starting with a BOM).
    /// - Returns: the top-level value.
    /// - Throws: ``JSONParseError`` with the position and a one-line message.
    /// - Complexity: O(n) in the input size.
    public static func parse(_ data: [UInt8]) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = data.withUnsafeBytes { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses one JSON document from a string.
    ///
    /// - Parameter string: the complete document.
    /// - Returns: the top-level value.
    /// - Throws: ``JSONParseError`` with the position and a one-line message.
    /// - Complexity: O(n) in the input size (plus a copy if the string is not stored
    ///   contiguously as UTF-8, e.g. a bridged string).
    public static func parse(_ string: String) throws(JSONParseError) -> JSONValue {
        var string = string
        let result: Result<JSONValue, JSONParseError> = string.withUTF8 { buffer in
            Result { () throws(JSONParseError) -> JSONValue in try parse(UnsafeRawBufferPointer(buffer)) }
        }
        return try result.get()
    }
}

// MARK: - Implementation

/// ASCII byte constants used by the parser and the writer.
internal enum _ASCII {
    static let quote: UInt8 = 0x22        // "
    static let backslash: UInt8 = 0x5C    // \
    static let slash: UInt8 = 0x2F        // /
    static let comma: UInt8 = 0x2C        // ,
    static let colon: UInt8 = 0x3A        // :
    static let openBracket: UInt8 = 0x5B  // [
    static let closeBracket: UInt8 = 0x5D // ]
    static let openBrace: UInt8 = 0x7B    // {
    static let closeBrace: UInt8 = 0x7D   // }
    static let minus: UInt8 = 0x2D        // -
    static let plus: UInt8 = 0x2B         // +
    static let dot: UInt8 = 0x2E          // .
    static let zero: UInt8 = 0x30         // 0
    static let nine: UInt8 = 0x39         // 9
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let newline: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
}

/// Exact powers of ten representable as `Double` (10^0 ... 10^22).
internal let _exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// The iterative parser state. Containers under construction live on explicit stacks
/// (`frames`, `values`, `keys`, `numbers`), so nesting depth never touches the call stack.
///
/// Memory: an array holds its elements on the `numbers` stack as plain doubles for as long as
/// they are all numbers, and closes into a ``JSONArray`` stored as numbers; the first element
/// that is not a number moves the ones before it to `values`. So a file of nested arrays of
/// numbers costs 8 bytes per number (plus one `JSONValue` per innermost row), not one
/// 32-byte `JSONValue` per number and a copy of it.
internal struct _JSONParserCore {
    /// An open array or object.
    struct Frame {
        var isObject: Bool
        /// Index in `values` of this container's first element.
        var valueStart: Int
        /// Index in `keys` of this object's first key.
        var keyStart: Int
        /// Index in `numbers` of this array's first element while ``isNumeric``.
        var numberStart: Int
        /// Whether every element of this array so far is a number: they are then kept in
        /// `numbers` (8 bytes each), not in `values`.
        var isNumeric: Bool
    }

    let p: UnsafePointer<UInt8>
    let count: Int
    var i: Int = 0
    /// Byte offset where the document content starts (3 after a BOM).
    var contentStart: Int = 0
    var values: [JSONValue] = []
    var numbers: ContiguousArray<Double> = []
    var keys: [String] = []
    var frames: [Frame] = []
    /// Key → position, one per open object (kept apart so `Frame` stays trivially copyable).
    var objectIndexes: [[String: Int]] = []

    init(base: UnsafePointer<UInt8>, count: Int) {
        self.p = base
        self.count = count
    }

    // MARK: Errors

    func error(_ message: String, at offset: Int) -> JSONParseError {
        if offset >= count {
            return endError(message)
        }
        var line = 1
        var column = 1
        var k = contentStart
        while k < offset {
            let b = p[k]
            if b == _ASCII.newline {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
            k += 1
        }
        return JSONParseError(line: line, column: column, offset: offset, message: message)
    }

    func endError(_ message: String = "unexpected end of input (the file is truncated?)") -> JSONParseError {
        var line = 1
        var column = 1
        var k = contentStart
        while k < count {
            if p[k] == _ASCII.newline { line += 1; column = 1 } else if p[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        return JSONParseError(line: line, column: column, offset: count, message: message, isAtEndOfInput: true)
    }

    /// Describes the byte at `offset` for an "unexpected ..." message.
    func describeByte(at offset: Int) -> String {
        let b = p[offset]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        if b == _ASCII.space { return "a space" }
        if b == _ASCII.newline { return "a line break" }
        if b >= 0x80 {
            // Decode one UTF-8 character for the message, if valid.
            var end = offset + 1
            while end < count && end < offset + 4 && p[end] & 0xC0 == 0x80 { end += 1 }
            let bytes = UnsafeBufferPointer(start: p + offset, count: end - offset)
            if let s = String(validating: bytes, as: UTF8.self), s.count == 1 { return "'\(s)'" }
        }
        return "byte 0x" + _hex2(b)
    }

    // MARK: Whitespace

    @inline(__always)
    mutating func skipWhitespace() {
        while i < count {
            let b = p[i]
            if b == _ASCII.space || b == _ASCII.newline || b == _ASCII.carriageReturn || b == _ASCII.tab {
                i += 1
            } else {
                return
            }
        }
    }

    // MARK: Document

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if count >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF {
            i = 3
            contentStart = 3
        }
        skipWhitespace()
        if i >= count {
            throw JSONParseError(line: 1, column: 1, offset: count, message: "the input is empty", isAtEndOfInput: true)
        }
        values.reserveCapacity(64)

        while true {
            // Parse one value at `i` (whitespace already skipped).
            guard i < count else { throw endError() }
            let c = p[i]
            switch c {
            case _ASCII.openBracket:
                try checkDepth(at: i)
                i += 1
                skipWhitespace()
                endNumericRun()
                if i < count && p[i] == _ASCII.closeBracket {
                    i += 1
                    values.append(.array(JSONArray()))
                } else {
                    frames.append(Frame(isObject: false, valueStart: values.count, keyStart: keys.count,
                                        numberStart: numbers.count, isNumeric: true))
                    continue
                }
            case _ASCII.openBrace:
                try checkDepth(at: i)
                i += 1
                skipWhitespace()
                endNumericRun()
                if i < count && p[i] == _ASCII.closeBrace {
                    i += 1
                    values.append(.object(JSONObject()))
                } else {
                    frames.append(Frame(isObject: true, valueStart: values.count, keyStart: keys.count,
                                        numberStart: numbers.count, isNumeric: false))
                    objectIndexes.append([:])
                    try parseKeyAndColon()
                    continue
                }
            case _ASCII.quote:
                let string = try parseString()
                endNumericRun()
                values.append(.string(string))
            case _ASCII.minus, _ASCII.zero..._ASCII.nine:
                appendNumber(try parseNumber())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                endNumericRun()
                values.append(.bool(true))
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                endNumericRun()
                values.append(.bool(false))
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                endNumericRun()
                values.append(.null)
            case UInt8(ascii: "N"):
                try expectLiteral("NaN")
                appendNumber(.nan)
            case UInt8(ascii: "I"):
                try expectLiteral("Infinity")
                appendNumber(.infinity)
            default:
                throw error("unexpected \(describeByte(at: i)) (expected a value)", at: i)
            }

            // After a complete value: close finished containers, or move to the next element.
            while true {
                guard let top = frames.last else {
                    skipWhitespace()
                    if i < count {
                        throw error("unexpected \(describeByte(at: i)) after the end of the JSON value", at: i)
                    }
                    return values.removeLast()
                }
                skipWhitespace()
                guard i < count else { throw endError() }
                let d = p[i]
                if d == _ASCII.comma {
                    i += 1
                    skipWhitespace()
                    if top.isObject {
                        if i < count && p[i] == _ASCII.closeBrace {
                            throw error("trailing comma before '}' (not allowed in JSON)", at: i)
                        }
                        try parseKeyAndColon()
                    } else if i < count && p[i] == _ASCII.closeBracket {
                        throw error("trailing comma before ']' (not allowed in JSON)", at: i)
                    }
                    break
                } else if !top.isObject && d == _ASCII.closeBracket {
                    i += 1
                    closeArray(top)
                } else if top.isObject && d == _ASCII.closeBrace {
                    i += 1
                    closeObject(top)
                } else if top.isObject {
                    throw error("expected ',' or '}' in object, found \(describeByte(at: i))", at: i)
                } else {
                    throw error("expected ',' or ']' in array, found \(describeByte(at: i))", at: i)
                }
            }
        }
    }

    /// Throws if opening one more array or object would exceed the maximum depth.
    @inline(__always)
    func checkDepth(at offset: Int) throws(JSONParseError) {
        if frames.count >= JSONParser.maximumDepth {
            throw error("arrays and objects are nested deeper than \(JSONParser.maximumDepth) levels", at: offset)
        }
    }

    /// Appends a number to the innermost container: to `numbers` while it is an array of
    /// numbers only, else to `values`.
    @inline(__always)
    mutating func appendNumber(_ x: Double) {
        if let top = frames.last, top.isNumeric {
            numbers.append(x)
        } else {
            values.append(.number(x))
        }
    }

    /// Called before a value that is not a number joins the innermost container: if that is an
    /// array of numbers so far, its numbers move to `values` as `.number` values.
    @inline(__always)
    mutating func endNumericRun() {
        guard let top = frames.last, top.isNumeric else { return }
        for x in numbers[top.numberStart...] { values.append(.number(x)) }
        numbers.removeSubrange(top.numberStart...)
        frames[frames.count - 1].isNumeric = false
    }

    mutating func closeArray(_ frame: Frame) {
        frames.removeLast()
        if frame.isNumeric {
            let elements: ContiguousArray<Double>
            if frame.numberStart == 0 && numbers.count >= 1 << 16 {
                // A long array that owns the whole stack: hand the buffer over instead of
                // copying it (a copy would briefly need the numbers twice).
                elements = numbers
                numbers = []
            } else {
                elements = _exactCopy(numbers[frame.numberStart...])
                numbers.removeSubrange(frame.numberStart...)
            }
            values.append(.array(JSONArray(storage: .numbers(elements))))
        } else {
            let elements = _exactCopy(values[frame.valueStart...])
            values.removeSubrange(frame.valueStart...)
            values.append(.array(JSONArray(storage: .values(elements))))
        }
    }

    mutating func closeObject(_ frame: Frame) {
        let objectValues = Array(values[frame.valueStart...])
        values.removeSubrange(frame.valueStart...)
        let objectKeys = Array(keys[frame.keyStart...])
        keys.removeSubrange(frame.keyStart...)
        frames.removeLast()
        let index = objectIndexes.removeLast()
        values.append(.object(JSONObject(uncheckedKeys: objectKeys, values: objectValues, index: index)))
    }

    /// Parses `"key"` `:` and leaves `i` at the start of the value.
    mutating func parseKeyAndColon() throws(JSONParseError) {
        guard i < count else { throw endError() }
        guard p[i] == _ASCII.quote else {
            throw error("expected a string key in object, found \(describeByte(at: i))", at: i)
        }
        let keyOffset = i
        let key = try parseString()
        let position = keys.count - frames[frames.count - 1].keyStart
        if objectIndexes[objectIndexes.count - 1].updateValue(position, forKey: key) != nil {
            throw error("duplicate key \"\(_escapeForMessage(key))\" in object", at: keyOffset)
        }
        keys.append(key)
        skipWhitespace()
        guard i < count else { throw endError() }
        guard p[i] == _ASCII.colon else {
            throw error("expected ':' after object key \"\(_escapeForMessage(key))\", found \(describeByte(at: i))", at: i)
        }
        i += 1
        skipWhitespace()
    }

    // MARK: Literals

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let n = literal.utf8CodeUnitCount
        let lit = literal.utf8Start
        let start = i
        for k in 0..<n {
            guard start + k < count else { throw endError() }
            if p[start + k] != lit[k] {
                throw error("invalid literal (expected true, false, null, NaN or Infinity)", at: start)
            }
        }
        i = start + n
    }

    // MARK: Strings

    /// Parses a string starting at the opening quote `p[i]`; leaves `i` after the closing quote.
    mutating func parseString() throws(JSONParseError) -> String {
        let start = i + 1
        var j = start
        // Fast path: no escapes.
        while j < count {
            let c = p[j]
            if c == _ASCII.quote {
                i = j + 1
                return try makeString(UnsafeBufferPointer(start: p + start, count: j - start), stringStart: start - 1)
            }
            if c == _ASCII.backslash || c < 0x20 { break }
            j += 1
        }
        // Slow path: escapes (or an error).
        var buffer: [UInt8] = []
        buffer.reserveCapacity(j - start + 16)
        buffer.append(contentsOf: UnsafeBufferPointer(start: p + start, count: j - start))
        while true {
            guard j < count else { throw endError("unexpected end of input inside a string (the file is truncated?)") }
            let c = p[j]
            if c == _ASCII.quote {
                i = j + 1
                return try buffer.withUnsafeBufferPointer { (b) throws(JSONParseError) -> String in
                    try makeString(b, stringStart: start - 1)
                }
            }
            if c < 0x20 {
                throw error("control character U+00\(_hex2(c)) in string (it must be escaped)", at: j)
            }
            if c != _ASCII.backslash {
                buffer.append(c)
                j += 1
                continue
            }
            let escapeStart = j
            j += 1
            guard j < count else { throw endError("unexpected end of input inside a string (the file is truncated?)") }
            let e = p[j]
            j += 1
            switch e {
            case _ASCII.quote, _ASCII.backslash, _ASCII.slash: buffer.append(e)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: j)
                j += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    // High surrogate: must be followed by \u low surrogate.
                    guard j + 1 < count, p[j] == _ASCII.backslash, p[j + 1] == UInt8(ascii: "u") else {
                        if j >= count { throw endError("unexpected end of input inside a string (the file is truncated?)") }
                        throw error("lone UTF-16 surrogate \\u\(_hex4(scalar)) in string (a high surrogate must be followed by a \\u low surrogate)", at: escapeStart)
                    }
                    let low = try hex4(at: j + 2)
                    guard low >= 0xDC00 && low <= 0xDFFF else {
                        throw error("lone UTF-16 surrogate \\u\(_hex4(scalar)) in string (a high surrogate must be followed by a \\u low surrogate)", at: escapeStart)
                    }
                    j += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                    throw error("lone UTF-16 surrogate \\u\(_hex4(scalar)) in string (a low surrogate without a preceding high surrogate)", at: escapeStart)
                }
                _appendUTF8(scalar, to: &buffer)
            default:
                let shown = e >= 0x21 && e < 0x7F ? "'\\\(Character(Unicode.Scalar(e)))'" : "(a backslash followed by \(describeByte(at: j - 1)))"
                throw error("invalid escape \(shown) in string (valid escapes: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", at: escapeStart)
            }
        }
    }

    /// Reads four hex digits at `offset` as a code unit.
    func hex4(at offset: Int) throws(JSONParseError) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 {
            guard offset + k < count else { throw endError("unexpected end of input inside a string (the file is truncated?)") }
            let b = p[offset + k]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default:
                throw error("invalid \\u escape in string (expected four hex digits)", at: offset - 2)
            }
            v = v << 4 | d
        }
        return v
    }

    func makeString(_ bytes: UnsafeBufferPointer<UInt8>, stringStart: Int) throws(JSONParseError) -> String {
        // ASCII fast check avoids the validating initializer's extra work for the common case.
        var ascii = true
        for b in bytes where b >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw error("invalid UTF-8 in string", at: stringStart)
        }
        return s
    }

    // MARK: Numbers

    /// Parses a number (or `-Infinity`) starting at `p[i]`; leaves `i` after it.
    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = i
        var j = i
        var negative = false
        if p[j] == _ASCII.minus {
            negative = true
            j += 1
            guard j < count else { throw endError() }
            if p[j] == UInt8(ascii: "I") {
                i = j
                try expectLiteral("Infinity")
                return -.infinity
            }
        }
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var exponent = 0

        // Integer part.
        guard j < count else { throw endError() }
        let first = p[j]
        if first == _ASCII.zero {
            j += 1
            if j < count && p[j] >= _ASCII.zero && p[j] <= _ASCII.nine {
                throw error("numbers must not have leading zeros", at: start)
            }
        } else if first > _ASCII.zero && first <= _ASCII.nine {
            while j < count {
                let d = p[j] &- _ASCII.zero
                if d > 9 { break }
                if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                } else {
                    exponent += 1
                }
                significantDigits += 1
                j += 1
            }
        } else {
            throw error(negative ? "expected a digit after '-'" : "invalid number", at: j)
        }

        // Fraction.
        if j < count && p[j] == _ASCII.dot {
            j += 1
            let fractionStart = j
            while j < count {
                let d = p[j] &- _ASCII.zero
                if d > 9 { break }
                if mantissa == 0 && d == 0 {
                    exponent -= 1           // leading zero of 0.000ddd: not significant
                } else if significantDigits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(d)
                    significantDigits += 1
                    exponent -= 1
                } else {
                    significantDigits += 1  // dropped digit: slow path will handle it
                }
                j += 1
            }
            if j == fractionStart {
                if j >= count { throw endError() }
                throw error("expected a digit after the decimal point", at: j)
            }
        }

        // Exponent.
        if j < count && (p[j] == UInt8(ascii: "e") || p[j] == UInt8(ascii: "E")) {
            j += 1
            var exponentNegative = false
            if j < count && (p[j] == _ASCII.plus || p[j] == _ASCII.minus) {
                exponentNegative = p[j] == _ASCII.minus
                j += 1
            }
            let digitsStart = j
            var e = 0
            while j < count {
                let d = p[j] &- _ASCII.zero
                if d > 9 { break }
                if e < 100_000_000 { e = e * 10 + Int(d) }
                j += 1
            }
            if j == digitsStart {
                if j >= count { throw endError() }
                throw error("expected a digit in the exponent", at: j)
            }
            exponent += exponentNegative ? -e : e
        }
        i = j

        if mantissa == 0 {
            return negative ? -0.0 : 0.0
        }
        if significantDigits > 19 {
            // Truncated mantissa: the value lies in [m, m+1) * 10^exponent. If both ends round
            // to the same Double, that is the answer.
            if let a = _eiselLemire(mantissa, exponent, negative),
               let b = _eiselLemire(mantissa + 1, exponent, negative),
               a.bitPattern == b.bitPattern {
                return a
            }
            return slowNumber(from: start, to: j)
        }
        // Fast path (Clinger): exact mantissa, exact power of ten, one correctly rounded operation.
        if mantissa <= (1 << 53) {
            var value: Double
            if exponent >= 0 && exponent <= 22 {
                value = Double(mantissa) * _exactPowersOfTen[exponent]
                return negative ? -value : value
            } else if exponent < 0 && exponent >= -22 {
                value = Double(mantissa) / _exactPowersOfTen[-exponent]
                return negative ? -value : value
            } else if exponent > 22 && exponent <= 22 + 15 {
                // Move part of the exponent into the mantissa if that stays exact.
                let (scaled, overflow) = mantissa.multipliedReportingOverflow(by: UInt64(_exactPowersOfTen[exponent - 22]))
                if !overflow && scaled <= (1 << 53) {
                    value = Double(scaled) * 1e22
                    return negative ? -value : value
                }
            }
        }
        // Eisel-Lemire: correct for almost all inputs, reports the rare ambiguous ones.
        if let value = _eiselLemire(mantissa, exponent, negative) {
            return value
        }
        return slowNumber(from: start, to: j)
    }

    /// The standard library's correctly rounded conversion (rarely needed).
    func slowNumber(from start: Int, to end: Int) -> Double {
        let text = String(decoding: UnsafeBufferPointer(start: p + start, count: end - start), as: UTF8.self)
        return Double(text) ?? .nan  // never nil: the grammar was validated by the caller
    }
}

/// The elements of `slice` in a buffer of their own, of exactly their size.
///
/// `ContiguousArray(slice)` is not that: when the slice spans its whole array it shares the
/// array's buffer, spare capacity included, so every array closed from the parser's stacks kept
/// a stack-sized buffer (511 doubles for a 300-number row) and the stack was copied on its next
/// change.
@inline(__always)
internal func _exactCopy<T>(_ slice: ArraySlice<T>) -> ContiguousArray<T> {
    ContiguousArray(unsafeUninitializedCapacity: slice.count) { buffer, count in
        _ = buffer.initialize(from: slice)
        count = slice.count
    }
}

// MARK: - Eisel-Lemire decimal-to-binary conversion

/// Smallest and largest decimal exponents covered by ``_powersOfTen128``.
internal let _powersOfTenMinExponent = -348
internal let _powersOfTenMaxExponent = 347

/// 128-bit truncated (rounded-down) normalized mantissas of 10^e for e in -348...347:
/// element `2 * (e + 348)` holds the high 64 bits (top bit set), the next one the low 64 bits.
/// The same table as Go's `strconv.detailedPowersOfTen` and fast_float's, computed once on
/// first use (exact big-integer arithmetic, well under a millisecond).
internal let _powersOfTen128: [UInt64] = {
    let count = _powersOfTenMaxExponent - _powersOfTenMinExponent + 1
    var table = [UInt64](repeating: 0, count: 2 * count)

    /// Top 128 bits of a little-endian 32-bit-limb big integer, truncated (or shifted up).
    func top128(_ limbs: [UInt32]) -> (UInt64, UInt64) {
        var top = limbs.count - 1
        while top > 0 && limbs[top] == 0 { top -= 1 }
        let bitLength = top * 32 + (32 - limbs[top].leadingZeroBitCount)
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for k in 0..<128 {
            let bitIndex = bitLength - 1 - k  // bit of the integer feeding result bit 127 - k
            var bit: UInt64 = 0
            if bitIndex >= 0 {
                bit = UInt64((limbs[bitIndex / 32] >> UInt32(bitIndex % 32)) & 1)
            }
            if k < 64 { hi |= bit << UInt64(63 - k) } else { lo |= bit << UInt64(127 - k) }
        }
        return (hi, lo)
    }

    // Negative exponents: floor(2^1408 / 10^n) by repeated exact floor division by 10
    // (floor(floor(x / a) / b) == floor(x / (a * b))); 2^1408 / 10^348 still has > 250 bits.
    var reciprocal = [UInt32](repeating: 0, count: 45)
    reciprocal[44] = 1
    for n in 1...(-_powersOfTenMinExponent) {
        var remainder: UInt64 = 0
        for k in stride(from: reciprocal.count - 1, through: 0, by: -1) {
            let current = remainder << 32 | UInt64(reciprocal[k])
            reciprocal[k] = UInt32(current / 10)
            remainder = current % 10
        }
        let (hi, lo) = top128(reciprocal)
        let slot = 2 * (-n - _powersOfTenMinExponent)
        table[slot] = hi
        table[slot + 1] = lo
    }
    // Non-negative exponents: exact 10^e by repeated multiplication.
    var power: [UInt32] = [1]
    for e in 0...(_powersOfTenMaxExponent) {
        if e > 0 {
            var carry: UInt64 = 0
            for k in 0..<power.count {
                let current = UInt64(power[k]) * 10 + carry
                power[k] = UInt32(truncatingIfNeeded: current)
                carry = current >> 32
            }
            if carry > 0 { power.append(UInt32(carry)) }
        }
        let (hi, lo) = top128(power)
        let slot = 2 * (e - _powersOfTenMinExponent)
        table[slot] = hi
        table[slot + 1] = lo
    }
    return table
}()

/// The Eisel-Lemire algorithm: the correctly rounded `Double` nearest to
/// `mantissa * 10^exponent`, or `nil` when the 128-bit approximation cannot decide the
/// rounding (rare), the result would be subnormal, infinite, or the exponent is out of the
/// table's range. A port of Go's `strconv.eiselLemire64`.
///
/// - Precondition: `mantissa != 0`.
@inline(__always)
internal func _eiselLemire(_ mantissa: UInt64, _ exponent: Int, _ negative: Bool) -> Double? {
    guard exponent >= _powersOfTenMinExponent && exponent <= _powersOfTenMaxExponent else { return nil }
    let clz = mantissa.leadingZeroBitCount
    let man = mantissa << UInt64(clz)
    var retExp2 = UInt64(bitPattern: Int64(((217706 &* exponent) >> 16) &+ 64 &+ 1023)) &- UInt64(clz)

    let slot = 2 * (exponent - _powersOfTenMinExponent)
    let (powerHi, powerLo) = _powersOfTen128.withUnsafeBufferPointer { ($0[slot], $0[slot + 1]) }
    var (xHi, xLo) = man.multipliedFullWidth(by: powerHi)

    // Wider approximation when the low bits are all ones.
    if xHi & 0x1FF == 0x1FF && xLo &+ man < man {
        let (yHi, yLo) = man.multipliedFullWidth(by: powerLo)
        var mergedHi = xHi
        let mergedLo = xLo &+ yHi
        if mergedLo < xLo { mergedHi &+= 1 }
        if mergedHi & 0x1FF == 0x1FF && mergedLo &+ 1 == 0 && yLo &+ man < man {
            return nil
        }
        xHi = mergedHi
        xLo = mergedLo
    }

    // Shift to 54 bits.
    let msb = xHi >> 63
    var retMantissa = xHi >> (msb + 9)
    retExp2 &-= 1 ^ msb

    // Half-way ambiguity.
    if xLo == 0 && xHi & 0x1FF == 0 && retMantissa & 3 == 1 {
        return nil
    }

    // From 54 to 53 bits (round half to even).
    retMantissa &+= retMantissa & 1
    retMantissa >>= 1
    if retMantissa >> 53 > 0 {
        retMantissa >>= 1
        retExp2 &+= 1
    }
    // Zero/underflow: subnormal; 0x7FF or more: infinity. Leave both to the slow path.
    if retExp2 &- 1 >= 0x7FF - 1 {
        return nil
    }
    var bits = retExp2 << 52 | retMantissa & 0x000F_FFFF_FFFF_FFFF
    if negative { bits |= 0x8000_0000_0000_0000 }
    return Double(bitPattern: bits)
}

// MARK: - Helpers shared with the writer

internal let _hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

internal func _hex2(_ b: UInt8) -> String {
    String(decoding: [_hexDigits[Int(b >> 4)], _hexDigits[Int(b & 0xF)]], as: UTF8.self)
}

internal func _hex4(_ v: UInt32) -> String {
    _hex2(UInt8(truncatingIfNeeded: v >> 8)) + _hex2(UInt8(truncatingIfNeeded: v))
}

internal func _appendUTF8(_ scalar: UInt32, to buffer: inout [UInt8]) {
    if scalar < 0x80 {
        buffer.append(UInt8(scalar))
    } else if scalar < 0x800 {
        buffer.append(UInt8(0xC0 | (scalar >> 6)))
        buffer.append(UInt8(0x80 | (scalar & 0x3F)))
    } else if scalar < 0x10000 {
        buffer.append(UInt8(0xE0 | (scalar >> 12)))
        buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (scalar & 0x3F)))
    } else {
        buffer.append(UInt8(0xF0 | (scalar >> 18)))
        buffer.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        buffer.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}

/// Escapes a key for inclusion in a one-line error message (quotes, backslashes, controls).
internal func _escapeForMessage(_ s: String) -> String {
    var out: [UInt8] = []
    _JSONWriterCore.appendEscapedContents(s, to: &out)
    return String(decoding: out, as: UTF8.self)
}

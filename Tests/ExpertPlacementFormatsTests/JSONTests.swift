// JSONTests.swift — tests for JSONValue, JSONParser and JSONWriter.

import Testing
@testable import ExpertPlacementFormats

// MARK: - Helpers

/// A small deterministic PRNG (SplitMix64) so that randomized tests are reproducible and do
/// not touch any global random state.
fileprivate struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<n.
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func bool() -> Bool { next() & 1 == 1 }
}

/// Parses `text`, returning the error (or nil if it parses).
private func parseError(_ text: String) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(text)
        return nil
    } catch {
        return error
    }
}

private func parseError(_ bytes: [UInt8]) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes)
        return nil
    } catch {
        return error
    }
}

/// Parses `text` that must be a single number and returns it.
private func number(_ text: String) throws -> Double {
    let value = try JSONParser.parse(text)
    guard case .number(let x) = value else {
        Issue.record("\(text) parsed as \(value)")
        return .nan
    }
    return x
}

// MARK: - Parser: values and structure

@Suite("JSON parser: values")
struct JSONParserValueTests {
    @Test("scalars at top level")
    func scalars() throws {
        #expect(try JSONParser.parse("null") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("false") == .bool(false))
        #expect(try JSONParser.parse("  42  ") == .number(42))
        #expect(try JSONParser.parse("\"hi\"") == .string("hi"))
        #expect(try JSONParser.parse("[]") == .array([]))
        #expect(try JSONParser.parse("{}") == .object(JSONObject()))
    }

    @Test("nested structure with all whitespace kinds")
    func nested() throws {
        let text = "\r\n\t{ \"a\" : [ 1 , 2.5 , { \"b\" : null } , [ ] ] ,\n\"c\":{\"d\":[true,false]}}\n"
        let expected: JSONValue = [
            "a": [1, 2.5, ["b": .null], []],
            "c": ["d": [true, false]],
        ]
        #expect(try JSONParser.parse(text) == expected)
    }

    @Test("object keys keep source order")
    func keyOrder() throws {
        let value = try JSONParser.parse(#"{"z": 1, "a": 2, "m": 3}"#)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value.objectValue?.map(\.key) == ["z", "a", "m"])
        #expect(value.objectValue?["a"] == .number(2))
        #expect(value.objectValue?["q"] == nil)
    }

    @Test("a UTF-8 byte-order mark is accepted")
    func bom() throws {
        #expect(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)) == [1])
        #expect(try JSONParser.parse("\u{FEFF}{\"a\": true}") == ["a": true])
        let error = parseError([0xEF, 0xBB, 0xBF] + Array("x".utf8))
        #expect(error?.description == "line 1, column 1: unexpected 'x' (expected a value)")
    }

    @Test("String, [UInt8] and raw-buffer entry points agree")
    func entryPoints() throws {
        let text = #"{"load": [[1, 2], [3, 4.5]], "name": "é😀"}"#
        let bytes = Array(text.utf8)
        let a = try JSONParser.parse(text)
        let b = try JSONParser.parse(bytes)
        let c = try bytes.withUnsafeBytes { raw throws(JSONParseError) in try JSONParser.parse(raw) }
        #expect(a == b)
        #expect(b == c)
    }

    @Test("non-standard NaN, Infinity and -Infinity tokens become non-finite numbers")
    func nonFiniteTokens() throws {
        let value = try JSONParser.parse("[NaN, Infinity, -Infinity, 1]")
        let elements = try #require(value.arrayValue)
        #expect(elements[0].doubleValue?.isNaN == true)
        #expect(elements[1] == .number(.infinity))
        #expect(elements[2] == .number(-.infinity))
        #expect(elements[3] == .number(1))
        #expect(try JSONParser.parse("NaN").doubleValue?.isNaN == true)
        #expect(try JSONParser.parse(#"{"x": -Infinity}"#) == ["x": .number(-.infinity)])
        #expect(parseError("-NaN")?.message == "expected a digit after '-'")
        #expect(parseError("[nan]")?.message == "invalid literal (expected true, false, null, NaN or Infinity)")
        #expect(parseError("[Infinit]")?.message == "invalid literal (expected true, false, null, NaN or Infinity)")
        #expect(parseError("Infinit")?.description == "unexpected end of input (the file is truncated?)")
        #expect(parseError("Infinityx")?.message == "unexpected 'x' after the end of the JSON value")
    }
}

// MARK: - Parser: strings

@Suite("JSON parser: strings")
struct JSONParserStringTests {
    @Test("all escapes")
    func escapes() throws {
        let text = #""a\"b\\c\/d\be\ff\ng\rh\ti\u0041\u00e9\u20AC\ud83d\ude00\u0000""#
        #expect(try JSONParser.parse(text) == .string("a\"b\\c/d\u{8}e\u{C}f\ng\rh\ti" + "Aé€😀\u{0}"))
    }

    @Test("raw UTF-8 passes through")
    func rawUTF8() throws {
        #expect(try JSONParser.parse("\"é€😀 日本\"") == .string("é€😀 日本"))
    }

    @Test("lone surrogates are rejected")
    func loneSurrogates() {
        #expect(parseError(#""\ud800""#)?.description
                == #"line 1, column 2: lone UTF-16 surrogate \uD800 in string (a high surrogate must be followed by a \u low surrogate)"#)
        #expect(parseError(#""\ud800\u0041""#)?.message.hasPrefix(#"lone UTF-16 surrogate \uD800"#) == true)
        #expect(parseError(#""\ud800x""#)?.message.hasPrefix(#"lone UTF-16 surrogate \uD800"#) == true)
        #expect(parseError(#""\udc00""#)?.message
                == #"lone UTF-16 surrogate \uDC00 in string (a low surrogate without a preceding high surrogate)"#)
    }

    @Test("control characters, bad escapes, bad UTF-8, unterminated strings")
    func stringErrors() {
        #expect(parseError("\"a\tb\"")?.description == "line 1, column 3: control character U+0009 in string (it must be escaped)")
        #expect(parseError("[\"a\nb\"]")?.description == "line 1, column 4: control character U+000A in string (it must be escaped)")
        #expect(parseError(#""\x""#)?.description
                == #"line 1, column 2: invalid escape '\x' in string (valid escapes: \" \\ \/ \b \f \n \r \t \uXXXX)"#)
        #expect(parseError(#""\u12G4""#)?.description == #"line 1, column 2: invalid \u escape in string (expected four hex digits)"#)
        #expect(parseError([0x22, 0xC3, 0x28, 0x22])?.description == "line 1, column 1: invalid UTF-8 in string")
        #expect(parseError([0x22, 0xFF, 0x5C, 0x6E, 0x22])?.message == "invalid UTF-8 in string")
        #expect(parseError("\"abc")?.description == "unexpected end of input inside a string (the file is truncated?)")
        #expect(parseError("\"ab\\")?.isAtEndOfInput == true)
        #expect(parseError("\"\\u12")?.isAtEndOfInput == true)
    }

    @Test("'single quotes' are not JSON")
    func singleQuotes() {
        #expect(parseError("['a']")?.description == "line 1, column 2: unexpected ''' (expected a value)")
    }
}

// MARK: - Parser: numbers

@Suite("JSON parser: numbers")
struct JSONParserNumberTests {
    @Test("specific values match Double(String) bit for bit", arguments: [
        "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "0.3", "1e5", "1E5", "1e+5", "1e-5", "12.5e-3",
        "9007199254740992", "9007199254740993", "9007199254740995", "18446744073709551615",
        "18446744073709551616", "123456789012345678901234567890", "0.000000000000000000000000001",
        "1e22", "1e23", "1e-22", "1e-23", "123456789012345e22", "123456789012345e-22",
        "8.98846567431158e307", "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "5e-324", "1e-323",
        "0.1000000000000000055511151231257827021181583404541015625",
        "9007199254740993.0000000000000000000001", "9007199254740992.9999999999999999999999",
        "196.66666666666666", "7.038531e-26", "1448997445238699", "3.0517578125e-05",
        "1e308", "1e309", "-1e309", "1e999", "1e-400", "-1e-400", "0e999999999999999999", "1e-99999999999",
        "1e99999999999", "100000000000000000000000e-23", "0.00000000000000000000001e23",
    ])
    func specific(text: String) throws {
        let ours = try number(text)
        let reference = try #require(Double(text))
        #expect(ours.bitPattern == reference.bitPattern, "\(text): got \(ours), Double(String) gives \(reference)")
    }

    @Test("overflow becomes infinity, underflow zero")
    func overflow() throws {
        #expect(try number("1e999") == .infinity)
        #expect(try number("-1e999") == -.infinity)
        #expect(try number("1e-999") == 0)
        #expect(try number("-1e-999").sign == .minus)
    }

    @Test("10,000 seeded random decimal strings match Double(String) bit for bit")
    func randomized() throws {
        var rng = SplitMix64(seed: 0x5EED_1234)
        var mismatches: [String] = []
        for n in 0..<10_000 {
            let text = Self.randomNumberText(kind: n % 8, rng: &rng)
            let ours = try number(text)
            guard let reference = Double(text) else {
                Issue.record("generator produced a non-number: \(text)")
                continue
            }
            if ours.bitPattern != reference.bitPattern {
                mismatches.append("\(text): \(ours) vs \(reference)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    /// JSON number text of various shapes.
    fileprivate static func randomNumberText(kind: Int, rng: inout SplitMix64) -> String {
        func digits(_ count: Int, leadingNonZero: Bool = true) -> String {
            var s = ""
            for k in 0..<count {
                s += String(k == 0 && leadingNonZero ? 1 + rng.below(9) : rng.below(10))
            }
            return s
        }
        let sign = rng.below(4) == 0 ? "-" : ""
        switch kind {
        case 0:
            // Shortest representation of a random finite Double (any exponent, incl. subnormals).
            var bits = rng.next()
            if (bits >> 52) & 0x7FF == 0x7FF { bits &= ~(UInt64(1) << 62) }
            return String(Double(bitPattern: bits))
        case 1:
            // Long mantissas (up to 40 digits) with a decimal point somewhere.
            let count = 1 + rng.below(40)
            let d = digits(count)
            let point = rng.below(count + 1)
            if point == count { return sign + d }
            return sign + (point == 0 ? "0" : String(d.prefix(point))) + "." + String(d.dropFirst(point))
        case 2:
            // Around the fast-path limits: 14...17 significant digits, |exp10| around 22.
            let d = digits(14 + rng.below(4))
            let e = [-24, -23, -22, -21, 21, 22, 23, 24, 37, 38][rng.below(10)]
            return sign + d + "e" + String(e)
        case 3:
            // Subnormals and the normal/subnormal boundary.
            let d = digits(1 + rng.below(20))
            let e = -330 + rng.below(30) - (d.count - 1)
            return sign + String(d.prefix(1)) + (d.count > 1 ? "." + String(d.dropFirst()) : "") + "e" + String(e + d.count - 1)
        case 4:
            // Near the overflow threshold.
            let d = digits(1 + rng.below(20))
            return sign + String(d.prefix(1)) + "." + digits(1 + rng.below(18), leadingNonZero: false) + "e" + String(300 + rng.below(12))
        case 5:
            // Integers of up to 25 digits.
            return sign + digits(1 + rng.below(25))
        case 6:
            // Leading zeros in the fraction, exponent in either form.
            let zeros = String(repeating: "0", count: rng.below(30))
            let e = rng.below(3) == 0 ? "" : (rng.bool() ? "E" : "e") + ["", "+", "-"][rng.below(3)] + String(rng.below(40))
            return sign + "0." + zeros + digits(1 + rng.below(20)) + e
        default:
            // Random digits, wide exponent range.
            return sign + digits(1 + rng.below(19)) + "e" + String(rng.below(700) - 350)
        }
    }

    @Test("number grammar errors", arguments: [
        ("01", "line 1, column 1: numbers must not have leading zeros"),
        ("-01", "line 1, column 1: numbers must not have leading zeros"),
        ("[00]", "line 1, column 2: numbers must not have leading zeros"),
        ("-a", "line 1, column 2: expected a digit after '-'"),
        ("[1.]", "line 1, column 4: expected a digit after the decimal point"),
        ("[1e]", "line 1, column 4: expected a digit in the exponent"),
        ("[1e+]", "line 1, column 5: expected a digit in the exponent"),
        ("+1", "line 1, column 1: unexpected '+' (expected a value)"),
        (".5", "line 1, column 1: unexpected '.' (expected a value)"),
        ("0x10", "line 1, column 2: unexpected 'x' after the end of the JSON value"),
        ("1.5.2", "line 1, column 4: unexpected '.' after the end of the JSON value"),
        ("-", "unexpected end of input (the file is truncated?)"),
        ("1.", "unexpected end of input (the file is truncated?)"),
        ("1e", "unexpected end of input (the file is truncated?)"),
    ])
    func grammarErrors(text: String, expected: String) {
        #expect(parseError(text)?.description == expected)
    }

    @Test("powers-of-ten table matches the reference (Go strconv / fast_float)")
    func powersTable() {
        // Reference values computed with exact integer arithmetic in Python.
        func entry(_ e: Int) -> (UInt64, UInt64) {
            let slot = 2 * (e - _powersOfTenMinExponent)
            return (_powersOfTen128[slot], _powersOfTen128[slot + 1])
        }
        #expect(entry(-348) == (0xFA8F_D5A0_081C_0288, 0x1732_C869_CD60_E453))
        #expect(entry(-22) == (0xF1C9_0080_BAF7_2CB1, 0x5324_C68B_12DD_6338))
        #expect(entry(-1) == (0xCCCC_CCCC_CCCC_CCCC, 0xCCCC_CCCC_CCCC_CCCC))
        #expect(entry(0) == (0x8000_0000_0000_0000, 0))
        #expect(entry(1) == (0xA000_0000_0000_0000, 0))
        #expect(entry(23) == (0xA968_163F_0A57_B400, 0))
        #expect(entry(347) == (0xD13E_B464_6944_7567, 0x4B71_95F2_D2D1_A9FB))
        var checksum: UInt64 = 0
        for value in _powersOfTen128 { checksum = checksum &* 1_000_003 &+ value }
        #expect(checksum == 0xE177_38D7_CAE9_AFA5)
    }
}

// MARK: - Parser: errors and limits

@Suite("JSON parser: errors and limits")
struct JSONParserErrorTests {
    @Test("empty input")
    func empty() {
        for text in ["", "   ", "\n\t\r\n", "\u{FEFF}"] {
            let error = parseError(text)
            #expect(error?.description == "the input is empty")
            #expect(error?.isAtEndOfInput == true)
        }
        #expect(parseError([UInt8]())?.message == "the input is empty")
    }

    @Test("positions are 1-based lines and character columns")
    func positions() throws {
        let error = try #require(parseError("[1, 2\n, 3 4]"))
        #expect(error.line == 2)
        #expect(error.column == 5)
        #expect(error.offset == 10)
        #expect(error.message == "expected ',' or ']' in array, found '4'")
        #expect(error.description == "line 2, column 5: expected ',' or ']' in array, found '4'")
        // Columns count characters, not bytes.
        #expect(parseError("[\"é😀\", x]")?.description == "line 1, column 8: unexpected 'x' (expected a value)")
        #expect(parseError("{\n  \"a\": 1\n  \"b\": 2\n}")?.description == "line 3, column 3: expected ',' or '}' in object, found '\"'")
    }

    @Test("structural errors", arguments: [
        ("[1,]", "line 1, column 4: trailing comma before ']' (not allowed in JSON)"),
        ("{\"a\": 1,}", "line 1, column 9: trailing comma before '}' (not allowed in JSON)"),
        ("{\"a\" 1}", "line 1, column 6: expected ':' after object key \"a\", found '1'"),
        ("{1: 2}", "line 1, column 2: expected a string key in object, found '1'"),
        ("{\"a\": 1, 2}", "line 1, column 10: expected a string key in object, found '2'"),
        ("{} x", "line 1, column 4: unexpected 'x' after the end of the JSON value"),
        ("[1] [2]", "line 1, column 5: unexpected '[' after the end of the JSON value"),
        ("[1 2]", "line 1, column 4: expected ',' or ']' in array, found '2'"),
        ("[1}", "line 1, column 3: expected ',' or ']' in array, found '}'"),
        ("{\"a\": 1]", "line 1, column 8: expected ',' or '}' in object, found ']'"),
        ("]", "line 1, column 1: unexpected ']' (expected a value)"),
        ("[,1]", "line 1, column 2: unexpected ',' (expected a value)"),
        ("True", "line 1, column 1: unexpected 'T' (expected a value)"),
        ("nulx", "line 1, column 1: invalid literal (expected true, false, null, NaN or Infinity)"),
        ("[1] // comment", "line 1, column 5: unexpected '/' after the end of the JSON value"),
        ("[1, 2", "unexpected end of input (the file is truncated?)"),
        ("{\"a\": [1, {\"b\": ", "unexpected end of input (the file is truncated?)"),
        ("{\"a\"", "unexpected end of input (the file is truncated?)"),
        ("{\"a\":", "unexpected end of input (the file is truncated?)"),
        ("[1,", "unexpected end of input (the file is truncated?)"),
        ("nul", "unexpected end of input (the file is truncated?)"),
    ])
    func structural(text: String, expected: String) {
        #expect(parseError(text)?.description == expected)
    }

    @Test("end-of-input errors report the end position")
    func endPosition() throws {
        let error = try #require(parseError("[1,\n 2"))
        #expect(error.isAtEndOfInput)
        #expect(error.offset == 6)
        #expect(error.line == 2)
        #expect(error.column == 3)
    }

    @Test("duplicate keys are rejected with the key named")
    func duplicateKeys() throws {
        let error = try #require(parseError(#"{"a": 1, "b": {"a": 2}, "a": 3}"#))
        #expect(error.description == #"line 1, column 25: duplicate key "a" in object"#)
        #expect(error.offset == 24)
        #expect(parseError(#"{"a\"b": 1, "a\"b": 2}"#)?.message == #"duplicate key "a\"b" in object"#)
        // The same key in sibling and nested objects is fine.
        #expect(try JSONParser.parse(#"[{"a": 1}, {"a": 2, "b": {"a": 3}}]"#).arrayValue?.count == 2)
    }

    @Test("nesting up to 512 levels is accepted, deeper is an error (no stack overflow)")
    func depth() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        var value = try JSONParser.parse(ok)
        var levels = 0
        while case .array(let elements) = value {
            levels += 1
            guard let first = elements.first else { break }
            value = first
        }
        #expect(levels == 512)

        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(parseError(tooDeep)?.description == "line 1, column 513: arrays and objects are nested deeper than 512 levels")

        let objects = String(repeating: "{\"a\":", count: 600) + "1" + String(repeating: "}", count: 600)
        #expect(parseError(objects)?.message == "arrays and objects are nested deeper than 512 levels")

        let huge = String(repeating: "[", count: 200_000)
        #expect(parseError(huge)?.message == "arrays and objects are nested deeper than 512 levels")
    }

    @Test("errors compare equal by value")
    func equatable() {
        #expect(parseError("[1 2]") == JSONParseError(line: 1, column: 4, offset: 3, message: "expected ',' or ']' in array, found '2'"))
    }
}

// MARK: - Value model

@Suite("JSONValue and JSONObject")
struct JSONValueModelTests {
    @Test("accessors")
    func accessors() {
        #expect(JSONValue.number(3).intValue == 3)
        #expect(JSONValue.number(-0.0).intValue == 0)
        #expect(JSONValue.number(3.5).intValue == nil)
        #expect(JSONValue.number(1e19).intValue == nil)
        #expect(JSONValue.number(-9.223372036854775808e18).intValue == Int.min)
        #expect(JSONValue.number(9.223372036854775808e18).intValue == nil)
        #expect(JSONValue.number(.nan).intValue == nil)
        #expect(JSONValue.number(.infinity).intValue == nil)
        #expect(JSONValue.string("3").intValue == nil)
        #expect(JSONValue.number(2.5).doubleValue == 2.5)
        #expect(JSONValue.string("x").doubleValue == nil)
        #expect(JSONValue.string("x").stringValue == "x")
        #expect(JSONValue.bool(true).boolValue == true)
        #expect(JSONValue.null.isNull)
        #expect(JSONValue.array([1]).arrayValue == [1])
        #expect(JSONValue.object(["a": 1]).objectValue?["a"] == 1)
        #expect(JSONValue.null.arrayValue == nil)
        #expect(JSONValue.number(1).objectValue == nil)
    }

    @Test("kind descriptions for error messages")
    func kinds() {
        let values: [JSONValue] = [.null, .bool(true), .number(1), .string(""), .array([]), .object(JSONObject())]
        #expect(values.map(\.kindDescription) == ["null", "true/false", "a number", "a string", "an array", "an object"])
    }

    @Test("JSONObject: insert, replace, remove, order, iteration")
    func object() {
        var o = JSONObject()
        #expect(o.isEmpty)
        o["b"] = 1
        o["a"] = 2
        o["c"] = 3
        #expect(o.keys == ["b", "a", "c"])
        o["a"] = "two"
        #expect(o.keys == ["b", "a", "c"])
        #expect(o["a"] == "two")
        o["b"] = nil
        #expect(o.keys == ["a", "c"])
        #expect(o["c"] == 3)
        #expect(o["b"] == nil)
        o["b"] = nil
        #expect(o.count == 2)
        #expect(o.map { "\($0.key)=\($0.value)" } == ["a=string(\"two\")", "c=number(3.0)"])
        #expect(o.values == ["two", 3])
        #expect(o[1].key == "c")
        let pairs = JSONObject([("x", 1), ("y", 2)])
        #expect(pairs.keys == ["x", "y"])
    }

    @Test("object equality ignores key order but not values")
    func objectEquality() {
        let a = JSONObject([("x", 1), ("y", [true])])
        let b = JSONObject([("y", [true]), ("x", 1)])
        #expect(a == b)
        #expect(a != JSONObject([("x", 1), ("y", [false])]))
        #expect(a != JSONObject([("x", 1)]))
        #expect(a != JSONObject([("x", 1), ("z", [true])]))
    }

    @Test("literal conformances")
    func literals() {
        let v: JSONValue = ["a": [1, 2.5, "s", true, .null], "b": [:]]
        #expect(v == .object(JSONObject([
            ("a", .array([.number(1), .number(2.5), .string("s"), .bool(true), .null])),
            ("b", .object(JSONObject())),
        ])))
    }
}

// MARK: - Writer

@Suite("JSON writer")
struct JSONWriterTests {
    static let sample: JSONValue = [
        "name": "x",
        "load": [[1, 2.5], [3, 4]],
        "meta": ["k": [], "e": [:], "list": [["a": 1], [true, .null]]],
        "empty": [],
    ]

    @Test("exact pretty layout of a small nested value")
    func prettyLayout() throws {
        let expected = """
        {
          "empty": [],
          "load": [
            [1, 2.5],
            [3, 4]
          ],
          "meta": {
            "e": {},
            "k": [],
            "list": [
              {
                "a": 1
              },
              [true, null]
            ]
          },
          "name": "x"
        }

        """
        #expect(try JSONWriter.string(Self.sample) == expected)
    }

    @Test("exact compact form")
    func compact() throws {
        #expect(try JSONWriter.compactString(Self.sample)
                == #"{"empty":[],"load":[[1,2.5],[3,4]],"meta":{"e":{},"k":[],"list":[{"a":1},[true,null]]},"name":"x"}"#)
        #expect(try JSONWriter.compactString(.number(5)) == "5")
        #expect(try JSONWriter.string(.number(5)) == "5\n")
        #expect(try JSONWriter.string([1, 2, 3]) == "[1, 2, 3]\n")
        #expect(try JSONWriter.string([]) == "[]\n")
        #expect(try JSONWriter.string([:]) == "{}\n")
        #expect(try JSONWriter.string([[], [1]]) == "[\n  [],\n  [1]\n]\n")
    }

    @Test("number formatting", arguments: [
        (12.0, "12"), (-3.0, "-3"), (0.0, "0"), (-0.0, "0"), (100.0, "100"),
        (999_999_999_999_999.0, "999999999999999"), (-999_999_999_999_999.0, "-999999999999999"),
        (1e15, "1000000000000000"), (-1e15, "-1000000000000000"), (0x1p53, "9007199254740992"),
        (-0x1p53, "-9007199254740992"), (0x1p53 + 2, "9.007199254740994e+15"), (1e16, "1e+16"),
        (196.66666666666666, "196.66666666666666"), (1e-7, "1e-07"), (0.5, "0.5"), (0.1, "0.1"),
        (1234567.5, "1234567.5"), (Double.leastNonzeroMagnitude, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    ])
    func numbers(value: Double, expected: String) throws {
        #expect(try JSONWriter.compactString(.number(value)) == expected)
        #expect(try JSONParser.parse(expected) == .number(value))
    }

    @Test("string escaping")
    func escaping() throws {
        let s = "a\"b\\c/\n\r\t\u{8}\u{C}\u{1}\u{1F}\u{7F}é😀"
        let written = try JSONWriter.compactString(.string(s))
        #expect(written == "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001F\u{7F}é😀\"")
        #expect(try JSONParser.parse(written) == .string(s))
    }

    @Test("keys are sorted by UTF-8 bytes")
    func keySorting() throws {
        let o: JSONValue = ["é": 1, "a": 2, "B": 3, "😀": 4, "ab": 5, "": 6, "\u{FF5E}": 7]
        #expect(try JSONWriter.compactString(o) == "{\"\":6,\"B\":3,\"a\":2,\"ab\":5,\"é\":1,\"\u{FF5E}\":7,\"😀\":4}")
    }

    @Test("deterministic: insertion order does not change the output")
    func determinism() throws {
        let a: JSONValue = ["x": 1, "y": ["b": 2, "a": 3]]
        let b: JSONValue = ["y": ["a": 3, "b": 2], "x": 1]
        #expect(try JSONWriter.string(a) == JSONWriter.string(b))
        #expect(try JSONWriter.compactString(a) == JSONWriter.compactString(b))
    }

    @Test("round trip of 300 seeded random documents")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, rng: &rng)
            let pretty = try JSONWriter.string(value)
            let compact = try JSONWriter.compactString(value)
            let fromPretty = try JSONParser.parse(pretty)
            let fromCompact = try JSONParser.parse(compact)
            #expect(fromPretty == value)
            #expect(fromCompact == value)
            #expect(try JSONWriter.string(fromPretty) == pretty)
            #expect(try JSONWriter.compactString(fromCompact) == compact)
        }
    }

    fileprivate static func randomValue(depth: Int, rng: inout SplitMix64) -> JSONValue {
        let choice = depth >= 4 ? rng.below(5) : rng.below(8)
        switch choice {
        case 0: return .null
        case 1: return .bool(rng.bool())
        case 2:
            var bits = rng.next()
            if (bits >> 52) & 0x7FF == 0x7FF { bits &= ~(UInt64(1) << 62) }
            return .number(Double(bitPattern: bits))
        case 3: return .number(Double(rng.below(2_000_001) - 1_000_000) / [1, 2, 10, 1000][rng.below(4)])
        case 4: return .string(randomString(rng: &rng))
        case 5, 6:
            return .array((0..<rng.below(6)).map { _ in randomValue(depth: depth + 1, rng: &rng) })
        default:
            var o = JSONObject()
            for _ in 0..<rng.below(6) {
                o[randomString(rng: &rng)] = randomValue(depth: depth + 1, rng: &rng)
            }
            return .object(o)
        }
    }

    fileprivate static func randomString(rng: inout SplitMix64) -> String {
        let alphabet: [Unicode.Scalar] = ["a", "b", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{FEFF}"]
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.below(8) { s.append(alphabet[rng.below(alphabet.count)]) }
        return String(s)
    }
}

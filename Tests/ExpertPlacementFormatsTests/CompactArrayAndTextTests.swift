@testable import ExpertPlacementFormats
import Foundation
import Testing

@Suite("JSON arrays of numbers stored flat; terminal text")
struct CompactArrayAndTextTests {
    @Test("a parsed array of numbers is stored as doubles, in an exact-size buffer")
    func numericRowsAreFlat() throws {
        let row = (0..<300).map { String($0) }.joined(separator: ", ")
        let value = try JSONParser.parse("[[\(row)], [\(row)]]")
        guard case .array(let rows) = value else { Issue.record("not an array"); return }
        #expect(rows.count == 2)
        #expect(rows.numbers == nil)  // rows of arrays
        for r in rows {
            guard case .array(let items) = r else { Issue.record("row is not an array"); continue }
            let numbers = try #require(items.numbers)
            #expect(numbers == ContiguousArray((0..<300).map(Double.init)))
            // Before: each row kept the parser's whole stack buffer (capacity 511 for 300).
            #expect(numbers.capacity < 300 + 16, "capacity \(numbers.capacity) for 300 numbers")
        }
    }

    @Test("mixed arrays keep every element in order", arguments: [
        #"[1, 2, "a", 3]"#, #"[1, [2, 3], 4]"#, #"[1, {"a": [5]}, 2]"#, #"[1, true, null, false, 2]"#,
        #"["a", 1, 2]"#, #"[[1], 2, [3, [4, "x"]]]"#, #"[1, NaN, Infinity, -Infinity, -0.0]"#, #"[[], 1, []]"#,
    ])
    func mixedArrays(text: String) throws {
        let parsed = try JSONParser.parse(text)
        guard !text.contains("NaN") else {
            let items = try #require(parsed.arrayValue)
            #expect(items.count == 5 && items[0] == 1 && items[1].doubleValue!.isNaN && items[2] == .number(.infinity)
                    && items[3] == .number(-.infinity) && items[4].doubleValue!.sign == .minus)
            return
        }
        // Written compactly and read back by Foundation: the same elements in the same order.
        let written = try JSONWriter.compactString(parsed)
        let a = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSArray
        let b = try JSONSerialization.jsonObject(with: Data(written.utf8)) as? NSArray
        #expect(a == b, "\(text) → \(written)")
        #expect(try JSONParser.parse(written) == parsed)
    }

    @Test("equality does not depend on storage; NaN is not equal to itself")
    func equality() throws {
        let parsed = try JSONParser.parse("[1, 2.5, 3]")
        let built = JSONValue.array(JSONArray(storage: .values([.number(1), .number(2.5), .number(3)])))
        #expect(parsed == built)
        #expect(parsed == [1, 2.5, 3])
        #expect(try JSONParser.parse("[1, 2]") != parsed)
        let nan = try JSONParser.parse("[NaN]")
        #expect(nan != nan)
        #expect(try JSONParser.parse("[[1, 2], [3]]").arrayValue?.count == 2)
    }

    @Test("TerminalText escapes control and bidi characters only")
    func sanitize() {
        #expect(TerminalText.sanitized("plain naïve 名前 ✓") == "plain naïve 名前 ✓")
        #expect(TerminalText.sanitized("a\u{1B}[2Jb") == #"a\u{1B}[2Jb"#)
        #expect(TerminalText.sanitized("x\ny\r\t\u{0}\u{7F}\u{9B}") == #"x\u{A}y\u{D}\u{9}\u{0}\u{7F}\u{9B}"#)
        #expect(TerminalText.sanitized("\u{202E}gnp.exe") == #"\u{202E}gnp.exe"#)
    }

    @Test("JSON output keeps control characters exactly (escaped as \\u00XX)")
    func jsonLossless() throws {
        let name = "evil\u{1B}[2J\u{7}\r\u{202E}"
        let text = try JSONWriter.compactString(.string(name))
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 })
        #expect(try JSONParser.parse(text) == .string(name))
    }
}

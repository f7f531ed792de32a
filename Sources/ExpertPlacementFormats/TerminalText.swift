/// Text from input files made safe to print on a terminal.
///
/// An instance `name`, a file name or a field value quoted in an error message can hold control
/// characters: an escape sequence (`ESC [ 2 J` clears the screen, `ESC ] 52` writes the
/// clipboard on some terminals), a carriage return that overwrites what came before, a line break
/// that turns one error line into two, or a bidirectional override that shows text in another
/// order than it is stored. Text output shows each such character as a visible `\u{…}` escape
/// instead; JSON output needs none of this (``JSONWriter`` escapes every control character, and
/// the string is kept exactly).
public enum TerminalText {
    /// `text` with every control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F)
    /// and every bidirectional formatting character (U+061C, U+200E, U+200F, U+202A–U+202E,
    /// U+2066–U+2069) replaced by `\u{HEX}`; everything else kept.
    ///
    /// - Complexity: O(n) in the length of `text`; returns `text` itself when nothing needs escaping.
    public static func sanitized(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if needsEscape(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Whether `scalar` is a control or bidirectional formatting character.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}

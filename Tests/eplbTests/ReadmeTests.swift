import Foundation
import Testing

/// The README's console blocks, run and compared, so that the README cannot drift from the program.
///
/// Every ```` ```console ```` block must follow a marker comment:
/// - `<!-- readme-test: compare -->`: each `$ ` line is run by `/bin/sh` (in a scratch directory
///   holding a link to `Examples/`, with the built `eplb` first on the `PATH`) and its standard
///   output must equal the lines that follow it, byte for byte;
/// - `<!-- readme-test: compare; mask times -->`: the same, with measured times (`2.11 ms`,
///   `4.24 s`) replaced by one placeholder on both sides and runs of spaces counted as one;
/// - `<!-- readme-test: not run (reason) -->`: not run; the reason is required.
@Suite("README console blocks")
struct ReadmeTests {
    struct Block: CustomStringConvertible, Sendable {
        var line: Int
        var marker: String
        var lines: [String]
        var description: String { "README.md:\(line)" }
    }

    /// The console blocks of README.md with their markers (a missing marker is recorded as "").
    static func blocks() throws -> [Block] {
        let text = try String(contentsOfFile: repositoryRoot() + "/README.md", encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        var blocks: [Block] = []
        var i = 0
        while i < lines.count {
            if lines[i] == "```console" {
                let previous = i > 0 ? lines[i - 1] : ""
                var marker = ""
                if previous.hasPrefix("<!-- readme-test: ") && previous.hasSuffix(" -->") {
                    marker = String(previous.dropFirst("<!-- readme-test: ".count).dropLast(" -->".count))
                }
                var body: [String] = []
                i += 1
                while i < lines.count && lines[i] != "```" {
                    body.append(lines[i])
                    i += 1
                }
                blocks.append(Block(line: i - body.count, marker: marker, lines: body))
            }
            i += 1
        }
        return blocks
    }

    @Test("every console block says whether and how it is checked")
    func markers() throws {
        let blocks = try Self.blocks()
        #expect(blocks.count >= 5)
        for block in blocks {
            let known = block.marker == "compare" || block.marker == "compare; mask times"
                || (block.marker.hasPrefix("not run (") && block.marker.count > "not run ()".count)
            #expect(known, "\(block): marker «\(block.marker)»")
            #expect(block.lines.first?.hasPrefix("$ eplb ") == true, "\(block) does not start with a command")
        }
    }

    @Test("the README's console blocks print what the README shows", arguments: try ReadmeTests.blocks().filter { $0.marker.hasPrefix("compare") })
    func run(block: Block) throws {
        let masked = block.marker.hasSuffix("mask times")
        let directory = TestScratch.root.appendingPathComponent("eplb-readme-\(getpid())-\(block.line)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.appendingPathComponent("Examples").path,
                                                   withDestinationPath: repositoryRoot() + "/Examples")
        var commands: [(command: String, expected: [String])] = []
        for line in block.lines {
            if line.hasPrefix("$ ") {
                commands.append((String(line.dropFirst(2)), []))
            } else {
                commands[commands.count - 1].expected.append(line)
            }
        }
        for (command, expected) in commands {
            let r = try Self.shell(command, in: directory.path)
            #expect(r.status == 0, "\(block) «\(command)»: exit \(r.status), \(r.stderr)")
            var actual = r.stdout.components(separatedBy: "\n")
            if actual.last == "" { actual.removeLast() }
            let want = masked ? expected.map(Self.masked) : expected
            let got = masked ? actual.map(Self.masked) : actual
            #expect(got == want, "\(block) «\(command)» printed:\n\(r.stdout)")
        }
    }

    @Test("masking replaces measured times only")
    func masking() {
        #expect(Self.masked("  status feasible, objective mean, solved in 2.11 ms") == Self.masked("  status feasible, objective mean, solved in 547.82 ms"))
        #expect(Self.masked("in 4.24 s") == Self.masked("in 51.98 ms"))
        #expect(Self.masked("    0  1.0851") != Self.masked("    0  1.0852"))
        #expect(Self.masked("4 of 4 layers changed, 86 moves") != Self.masked("4 of 4 layers changed, 87 moves"))
    }

    /// A line with measured times replaced by `<time>` and runs of spaces by one space.
    static func masked(_ line: String) -> String {
        let times = try! NSRegularExpression(pattern: #"\b\d+(\.\d+)? (ms|s)\b"#)
        let spaces = try! NSRegularExpression(pattern: " {2,}")
        var s = line
        s = times.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: "<time>")
        s = spaces.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: " ")
        return s
    }

    /// Runs `command` with `/bin/sh -c` in `directory`, the built `eplb` first on the `PATH`.
    static func shell(_ command: String, in directory: String) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = CLI.binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }
}

import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

/// One hostile run of `eplb`: the files it reads, its command line, and what its error must name.
///
/// To add a case, append a row to ``HostileCorpus/reproducers`` (or a kind of mutation to
/// ``HostileCorpus/generated(seed:count:)``). Every case, whatever its outcome, must end with exit
/// status 0, 1 (`validate` on a plan that breaks a rule), 2 (bad input: one line on stderr naming
/// the file, nothing on stdout) or 64 (a bad flag); a signal or a trap fails it.
struct HostileCase: CustomStringConvertible, Sendable {
    /// A short label, shown when the case fails.
    var name: String
    /// Files to write, name → contents; `@name` in ``arguments`` is replaced by the file's path.
    var files: [String: String]
    /// The command line after `eplb`.
    var arguments: [String]
    /// When set, the run must be refused (exit 2, or 64 for a flag) with a message containing this.
    var refusal: String?

    var description: String { "\(name): eplb \(arguments.joined(separator: " "))" }
}

enum HostileCorpus {
    /// A 2 × 2 topology for three experts, the canvas most reproducers paint on.
    static let topology = #""topology": {"devices": 2, "slotsPerDevice": 2}"#

    static func instance(load: String, extra: String = "") -> String {
        #"{"schemaVersion": 1, \#(topology), "load": \#(load)\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    static let plan = #"{"schemaVersion": 1, \#(topology), "phy2log": [[0, 1, 2, 0]]}"#
    static let methods = ["greedy", "hierarchical", "search", "exact", "auto"]

    /// Every command that reads an instance, on the instance file `@i.json` (and plan `@p.json`).
    static func everyCommand(_ name: String, instance: String, refusal: String?) -> [HostileCase] {
        var cases = methods.map { m in
            HostileCase(name: "\(name) solve \(m)", files: ["i.json": instance],
                        arguments: ["solve", "@i.json", "--method", m, "--time-limit", "1"], refusal: refusal)
        }
        let withCurrent = ["i.json": instance, "p.json": plan]
        cases += [
            HostileCase(name: "\(name) evaluate", files: withCurrent, arguments: ["evaluate", "@i.json", "--placement", "@p.json"], refusal: refusal),
            HostileCase(name: "\(name) validate", files: withCurrent, arguments: ["validate", "@p.json", "--instance", "@i.json"], refusal: refusal),
            HostileCase(name: "\(name) rebalance", files: withCurrent, arguments: ["rebalance", "@i.json", "--current", "@p.json"], refusal: refusal),
            HostileCase(name: "\(name) pareto", files: withCurrent, arguments: ["pareto", "@i.json", "--current", "@p.json"], refusal: refusal),
            HostileCase(name: "\(name) simulate", files: ["i.json": instance],
                        arguments: ["simulate", "@i.json", "--window", "1", "--interval", "1", "--policy", "none", "--policy", "search"],
                        refusal: refusal),
        ]
        return cases
    }

    /// The reproducers of issue 9 (extreme values and sizes), each with what its refusal names.
    static let reproducers: [HostileCase] = {
        var cases: [HostileCase] = []
        let range = "outside the supported range"
        cases += everyCommand("loads near the largest double", instance: instance(load: "[[[1.7e308, 1.7e308, 1.7e308]]]"),
                              refusal: "i.json: load[0][0][0]: load 1.7e+308 is \(range)")
        cases += everyCommand("subnormal loads", instance: instance(load: "[[[5e-310, 1e-310, 3e-310]]]"),
                              refusal: "i.json: load[0][0][0]: load 5e-310 is \(range)")
        cases += everyCommand("tiny episode weights", instance: instance(load: "[[[1, 2, 3], [3, 2, 1]]]", extra: #""episodeWeights": [1e-300, 1e-300]"#),
                              refusal: "i.json: episodeWeights[0]: weight 1e-300 is \(range)")
        cases += everyCommand("huge episode weights", instance: instance(load: "[[[1, 2, 3], [3, 2, 1]]]", extra: #""episodeWeights": [1e308, 1e308]"#),
                              refusal: "i.json: episodeWeights[0]: weight 1e+308 is \(range)")
        // The edges of the range are accepted by every command.
        cases += everyCommand("loads and weights at the range's edges",
                              instance: instance(load: "[[[1e100, 1e100, 1e-100], [1e-100, 1e100, 0]]]", extra: #""episodeWeights": [1e100, 1e-100]"#),
                              refusal: nil)
        let huge = #"{"devices": 1099511627776, "slotsPerDevice": 1099511627776}"#
        cases += [
            HostileCase(name: "2^40 × 2^40 topology with current",
                        files: ["i.json": #"{"topology": \#(huge), "load": [[1, 2, 3]], "current": [[0, 1, 2]]}"#],
                        arguments: ["solve", "@i.json"], refusal: "i.json: topology: devices × slotsPerDevice (1099511627776 × 1099511627776) is above the limit"),
            HostileCase(name: "--devices 2^62 with current", files: ["i.json": #"{"load": [[1, 2, 3]], "current": [[0, 1, 2]]}"#],
                        arguments: ["solve", "@i.json", "--devices", "4611686018427387904", "--slots-per-device", "1"],
                        refusal: "i.json: topology: devices × slotsPerDevice (4611686018427387904 × 1)"),
            HostileCase(name: "devices 1e14 with current", files: ["i.json": #"{"load": [[1, 2, 3]], "current": [[0, 1, 2]]}"#],
                        arguments: ["solve", "@i.json", "--devices", "100000000000000", "--slots-per-device", "1"],
                        refusal: "i.json: topology: devices × slotsPerDevice (100000000000000 × 1)"),
            HostileCase(name: "2^31 devices × 1 slot", files: ["i.json": #"{"topology": {"devices": 2147483648, "slotsPerDevice": 1}, "load": [[1]]}"#],
                        arguments: ["solve", "@i.json", "--method", "greedy"], refusal: "i.json: topology: devices × slotsPerDevice (2147483648 × 1)"),
            HostileCase(name: "2^15 experts on 2^16 slots (devices × experts and log2phy over the table limit)",
                        files: ["i.json": #"{"topology": {"devices": 65536, "slotsPerDevice": 1}, "load": [\#(Array(repeating: "1", count: 32768).joined(separator: ","))]}"#],
                        arguments: ["solve", "@i.json", "--method", "greedy"], refusal: "is above the limit of 1073741824 entries"),
            HostileCase(name: "2^40 × 2^40 placement, validate", files: ["p.json": #"{"topology": \#(huge), "phy2log": [[0, 1, 2]]}"#],
                        arguments: ["validate", "@p.json"], refusal: "p.json: topology: devices × slotsPerDevice"),
            HostileCase(name: "2^40 × 2^40 placement, evaluate", files: ["i.json": instance(load: "[1, 2, 3]"), "p.json": #"{"topology": \#(huge), "phy2log": [[0, 1, 2]]}"#],
                        arguments: ["evaluate", "@i.json", "--placement", "@p.json"], refusal: "p.json: topology: devices × slotsPerDevice"),
            HostileCase(name: "devices 1e12 in a placement", files: ["i.json": instance(load: "[1, 2, 3]"),
                                                                    "p.json": #"{"topology": {"devices": 1000000000000, "slotsPerDevice": 1}, "phy2log": [[0, 1, 2]]}"#],
                        arguments: ["evaluate", "@i.json", "--placement", "@p.json"], refusal: "p.json: topology: devices × slotsPerDevice (1000000000000 × 1)"),
            HostileCase(name: "experts 1e12 in a placement without an instance",
                        files: ["p.json": #"{"topology": {"devices": 4, "slotsPerDevice": 1}, "experts": 1e12, "phy2log": [[0, 1, 2, 3]]}"#],
                        arguments: ["validate", "@p.json"], refusal: "p.json: experts: 1000000000000 experts cannot fit the plan's 4 slots"),
            HostileCase(name: "a deployed plan without expert 2, rebalance",
                        files: ["i.json": instance(load: "[1, 2, 3]"), "p.json": #"{\#(topology), "experts": 3, "phy2log": [[0, 0, 1, 1]]}"#],
                        arguments: ["rebalance", "@i.json", "--current", "@p.json"], refusal: "p.json: phy2log: the deployed placement breaks a rule"),
            HostileCase(name: "a deployed plan with two replicas on one device (as DeepSeek EPLB may leave it), rebalance",
                        files: ["i.json": instance(load: "[1, 2, 3]"), "p.json": #"{\#(topology), "phy2log": [[0, 0, 1, 2]]}"#],
                        arguments: ["rebalance", "@i.json", "--current", "@p.json"], refusal: nil),
            HostileCase(name: "expert id 2^31 − 1 without an experts key",
                        files: ["p.json": #"{"topology": {"devices": 4, "slotsPerDevice": 1}, "phy2log": [[0, 1, 2, 2147483647]]}"#],
                        arguments: ["validate", "@p.json"], refusal: nil),
            HostileCase(name: "--time-limit 1e16", files: ["i.json": instance(load: "[1, 2, 3]")],
                        arguments: ["solve", "@i.json", "--time-limit", "1e16"], refusal: "--time-limit must be at most"),
            HostileCase(name: "--time-limit 1e9 (the largest accepted)", files: ["i.json": instance(load: "[1, 2, 3]")],
                        arguments: ["solve", "@i.json", "--method", "search", "--time-limit", "1e9"], refusal: nil),
            HostileCase(name: "rebalance --time-limit 1e300", files: ["i.json": instance(load: "[1, 2, 3]", extra: #""current": [[0, 1, 2, 0]]"#)],
                        arguments: ["rebalance", "@i.json", "--time-limit", "1e300"], refusal: "--time-limit must be at most"),
            HostileCase(name: "generate with 2^40 layers and episodes", files: [:],
                        arguments: ["generate", "spiky", "--layers", "1099511627776", "--episodes", "1099511627776"],
                        refusal: "--layers × --episodes × --experts is over 50 million values"),
            HostileCase(name: "gap-report with a 2^40 × 2^40 shape", files: [:],
                        arguments: ["gap-report", "--seeds", "1", "--shapes", "1099511627776x1099511627776x2", "--output-dir", "@gaps"],
                        refusal: "--shapes"),
            HostileCase(name: "gap-report with a shape over the table limit", files: [:],
                        arguments: ["gap-report", "--seeds", "1", "--shapes", "4x1073741824x1", "--output-dir", "@gaps"],
                        refusal: "--shapes: '4x1073741824x1': devices × experts"),
        ]
        return cases
    }()

    /// Tokens a hostile user types where numbers belong.
    static let numbers = ["0", "-0", "1", "3", "0.5", "-1", "1e-100", "1e100", "1e-101", "1e101", "1.7e308", "1e309", "-1e309",
                          "5e-310", "4.9e-324", "2147483647", "2147483648", "4294967296", "1099511627776",
                          "9223372036854775807", "1e19", "123456789012345678901234567890", "0.1e-7", "1E+2", "1e"]

    /// Seeded instances and plans built from ``numbers`` in random shapes, run through a random command.
    static func generated(seed: UInt64, count: Int) -> [HostileCase] {
        var rng = SeededGenerator(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        func number() -> String { rng.next() % 3 == 0 ? pick(numbers) : String(rng.next() % 20) }
        func list(_ n: Int, _ item: () -> String) -> String { "[" + (0..<n).map { _ in item() }.joined(separator: ", ") + "]" }
        var cases: [HostileCase] = []
        for k in 0..<count {
            let l = 1 + Int(rng.next() % 2), t = 1 + Int(rng.next() % 3), e = 2 + Int(rng.next() % 4)
            let raggedE = rng.next() % 8 == 0 ? e + 1 : e
            let load = list(l) { list(t) { list(rng.next() % 12 == 0 ? raggedE : e, number) } }
            let devices = rng.next() % 6 == 0 ? pick(numbers) : String(2 + rng.next() % 3)
            let slots = rng.next() % 6 == 0 ? pick(numbers) : String(1 + rng.next() % 2)
            var extra = ""
            if rng.next() % 3 == 0 { extra += #", "episodeWeights": \#(list(rng.next() % 5 == 0 ? t + 1 : t, number))"# }
            let d = Int(devices) ?? 2, s = Int(slots) ?? 1
            let p = (1...64).contains(d) && (1...64).contains(s) ? d * s : 4
            if rng.next() % 3 == 0 { extra += #", "current": \#(list(l) { list(p) { String(rng.next() % UInt64(e + 1)) } })"# }
            let instance = #"{"schemaVersion": 1, "topology": {"devices": \#(devices), "slotsPerDevice": \#(slots)}, "load": \#(load)\#(extra)}"#
            let plan = #"{"schemaVersion": 1, "topology": {"devices": \#(devices), "slotsPerDevice": \#(slots)}, "phy2log": \#(list(l) { list(p) { rng.next() % 5 == 0 ? pick(numbers) : String(rng.next() % UInt64(e)) } })}"#
            let files = ["i.json": instance, "p.json": plan]
            let arguments: [String] = switch rng.next() % 6 {
            case 0, 1: ["solve", "@i.json", "--method", pick(methods), "--time-limit", "1"]
            case 2: ["evaluate", "@i.json", "--placement", "@p.json"]
            case 3: ["validate", "@p.json"] + (rng.next() % 2 == 0 ? ["--instance", "@i.json"] : [])
            case 4: ["rebalance", "@i.json", "--current", "@p.json", "--time-limit", "1"]
            default: ["simulate", "@i.json", "--window", "1", "--interval", "1"]
            }
            cases.append(HostileCase(name: "generated #\(k) (seed \(seed))", files: files, arguments: arguments, refusal: nil))
        }
        return cases
    }
}

@Suite("hostile corpus: extreme values and sizes never trap")
struct HostileCorpusTests {
    /// Runs one case in its own directory and checks the outcome rules of ``HostileCase``.
    static func check(_ c: HostileCase) throws {
        let dir = TestScratch.root.appendingPathComponent("eplb-hostile-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in c.files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let arguments = c.arguments.map { $0.hasPrefix("@") ? dir.appendingPathComponent(String($0.dropFirst())).path : $0 }
        let r = try CLI.run(arguments)
        let command = c.arguments[0]
        // A trap or abort ends the process by a signal; CLI.run reports it as status 128 + n or the signal number.
        let allowed: Set<Int32> = command == "validate" ? [0, 1, 2, 64] : [0, 2, 64]
        #expect(allowed.contains(r.status), "\(c) ended with status \(r.status): \(r.stderr.prefix(300))")
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        switch r.status {
        case 2:
            #expect(r.stdout.isEmpty, "\(c): output on stdout with exit 2")
            #expect(lines.count == 1 && r.stderr.hasPrefix("eplb: error: "), "\(c): expected one error line, got \(r.stderr)")
            let named = c.files.keys.contains { r.stderr.contains($0) } || c.files.isEmpty
            #expect(named, "\(c): the error does not name the file: \(r.stderr)")
        case 64:
            #expect(r.stdout.isEmpty && r.stderr.hasPrefix("Error: "), "\(c): \(r.stderr)")
        case 0:
            #expect(!r.stdout.contains(/\b(nan|-?inf)\b/), "\(c): non-finite number in the output")
            if command == "solve" || command == "rebalance" {
                let plan = try PlacementFile.decode(Array(r.stdout.utf8), file: "stdout")
                #expect(Validation.violations(of: plan).isEmpty, "\(c): the written plan is not valid")
            }
        default:
            break
        }
        if let refusal = c.refusal {
            #expect(r.status == 2 || r.status == 64, "\(c) should have been refused, exited \(r.status)")
            #expect(r.stderr.contains(refusal), "\(c): expected “\(refusal)” in \(r.stderr)")
        } else if c.name.contains("edges") || c.name.contains("1e9") {
            #expect(r.status == 0, "\(c) should have been accepted: \(r.stderr)")
        }
    }

    @Test("issue 9 reproducers", arguments: HostileCorpus.reproducers)
    func reproducer(_ c: HostileCase) throws {
        try Self.check(c)
    }

    @Test("seeded extreme inputs", arguments: HostileCorpus.generated(seed: 9, count: 48))
    func generated(_ c: HostileCase) throws {
        try Self.check(c)
    }

    @Test("JSONWriter refuses a non-finite number with its path instead of trapping")
    func writerThrows() throws {
        let value: JSONValue = .object(JSONObject([("metrics", .array([.number(1), .number(.infinity)]))]))
        #expect(throws: JSONWriter.NonFiniteNumber(path: "metrics[1]", value: .infinity)) { try JSONWriter.string(value) }
        #expect(try JSONWriter.compactString(.number(0)) == "0")
    }
}

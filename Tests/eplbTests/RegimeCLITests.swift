import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

/// `eplb generate regimes`: a per-iteration .npy trace from a recording, read back with `--axes tle`.
@Suite("eplb generate regimes")
struct RegimeCLITests {
    /// The bundled OLMoE sample (3 layers × 6 domains × 64 experts, Apache-2.0).
    static let source = "/" + String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        + "/Examples/olmoe-1b-7b_domains.json"

    static func outputPath(_ name: String) -> String {
        TestScratch.root.appendingPathComponent("eplb-tests-\(getpid())-\(name)").path
    }

    static func generate(_ output: String, seed: Int = 4) throws -> CLI.Result {
        try CLI.run(["generate", "regimes", "--from", source, "--iterations", "40", "--layers", "5", "--experts", "96",
                     "--tokens", "256", "--top-k", "4", "--switch-probability", "0.05", "--blend", "8",
                     "--seed", String(seed), "--output", output])
    }

    @Test("writes a float32 (iterations, layers, experts) .npy that eplb solve reads back with --axes tle")
    func generateAndSolve() throws {
        let path = Self.outputPath("trace.npy")
        let r = try Self.generate(path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty && r.stderr.isEmpty)
        let array = try NumPyArray.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(array.shape == [40, 5, 96])
        #expect(array.dtype == .float32)
        for row in 0..<(40 * 5) {
            #expect(array.values[(row * 96)..<(row * 96 + 96)].reduce(0, +) == 1024)
        }
        let solved = try CLI.run(["solve", path, "--axes", "tle", "--devices", "8", "--slots-per-device", "14",
                                  "--format", "table", "--max-evaluations", "200"])
        #expect(solved.status == 0, "\(solved.stderr)")
        #expect(solved.stdout.contains("5 layers × 40 episodes × 96 experts"))
        let refused = try CLI.run(["solve", path, "--devices", "8", "--slots-per-device", "14"])
        #expect(refused.status == 2 && refused.stderr.contains("--axes"))
    }

    @Test("equal seeds give byte-equal files, another seed another file")
    func deterministic() throws {
        let a = Self.outputPath("a.npy"), b = Self.outputPath("b.npy"), c = Self.outputPath("c.npy")
        #expect(try Self.generate(a).status == 0)
        #expect(try Self.generate(b).status == 0)
        #expect(try Self.generate(c, seed: 5).status == 0)
        let bytes = { (path: String) in try Data(contentsOf: URL(fileURLWithPath: path)) }
        #expect(try bytes(a) == bytes(b))
        #expect(try bytes(a) != bytes(c))
    }

    @Test("usage errors: no --output, no --from, flags of other generators, bad parameters (exit 64); a bad source (exit 2)")
    func errors() throws {
        let noOutput = try CLI.run(["generate", "regimes", "--from", Self.source])
        #expect(noOutput.status == 64 && noOutput.stdout.isEmpty)
        #expect(noOutput.stderr.contains("--output"))
        #expect(try CLI.run(["generate", "regimes", "--output", Self.outputPath("x.npy")]).stderr.contains("--from"))
        let episodes = try CLI.run(["generate", "regimes", "--from", Self.source, "--episodes", "3", "--output", Self.outputPath("x.npy")])
        #expect(episodes.status == 64 && episodes.stderr.contains("--episodes"))
        #expect(try CLI.run(["generate", "spiky", "--blend", "3"]).status == 64)
        let p = try CLI.run(["generate", "regimes", "--from", Self.source, "--switch-probability", "1.5", "--output", Self.outputPath("x.npy")])
        #expect(p.status == 64 && p.stderr.contains("--switch-probability"))
        let missing = try CLI.run(["generate", "regimes", "--from", "/nonexistent.json", "--output", Self.outputPath("y.npy")])
        #expect(missing.status == 2 && missing.stdout.isEmpty)
        #expect(missing.stderr == "eplb: error: /nonexistent.json: no such file\n")
        #expect(!FileManager.default.fileExists(atPath: Self.outputPath("y.npy")))
        // A trace named .json would be binary under a JSON name: refused, nothing written.
        let json = try CLI.run(["generate", "regimes", "--from", Self.source, "--output", Self.outputPath("z.json")])
        #expect(json.status == 64 && json.stderr.contains("z.npy"))
        #expect(!FileManager.default.fileExists(atPath: Self.outputPath("z.json")))
    }
}

/// `eplb generate lognormal|spiky|zipf --output FILE.npy`: the loads alone, in the engines' order.
@Suite("eplb generate to .npy")
struct GenerateNumPyCLITests {
    @Test("the loads as (episodes, layers, experts): float32 for counts, float64 for spiky; the same problem as the JSON",
          arguments: ["lognormal", "zipf", "spiky"])
    func sameLoads(kind: String) throws {
        let npy = RegimeCLITests.outputPath("gen-\(kind).npy"), json = RegimeCLITests.outputPath("gen-\(kind).json")
        defer { for path in [npy, json] { try? FileManager.default.removeItem(atPath: path) } }
        let shape = ["--layers", "3", "--episodes", "5", "--experts", "16", "--seed", "9"]
        let a = try CLI.run(["generate", kind] + shape + ["--output", npy])
        #expect(a.status == 0 && a.stdout.isEmpty && a.stderr.isEmpty, "\(a.stderr)")
        #expect(try CLI.run(["generate", kind] + shape + ["--output", json]).status == 0)
        let array = try NumPyArray.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: npy))))
        #expect(array.shape == [5, 3, 16])
        #expect(array.dtype == (kind == "spiky" ? .float64 : .float32))
        let fromNumPy = try InstanceFile.readLoads(path: npy, axes: .tle)
        let fromJSON = try InstanceFile.load(path: json).problem.loads
        #expect(fromNumPy.values == fromJSON.values)
        // Read back as an instance, with the topology given then.
        let plan = try CLI.run(["solve", npy, "--axes", "tle", "--devices", "4", "--slots-per-device", "5", "--method", "greedy"])
        #expect(plan.status == 0, "\(plan.stderr)")
    }

    @Test("a topology flag with a .npy output is refused (exit 64, nothing written)")
    func topologyRefused() throws {
        let npy = RegimeCLITests.outputPath("gen-topology.npy")
        let r = try CLI.run(["generate", "lognormal", "--layers", "2", "--episodes", "2", "--experts", "8", "--devices", "4",
                             "--output", npy])
        #expect(r.status == 64 && r.stderr.contains("--devices"))
        #expect(!FileManager.default.fileExists(atPath: npy))
    }
}

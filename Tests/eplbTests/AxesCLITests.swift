import ExpertPlacement
import ExpertPlacementFormats
import Foundation
import Testing

/// `--axes lte|tle` on the command line: 3-D `.npy` loads are read only in a named order.
@Suite("eplb --axes")
struct AxesCLITests {
    /// A (2 iterations, 3 layers, 4 experts) array in the engines' order.
    static func trace() throws -> String {
        let values = ContiguousArray((0..<24).map { Double($0 % 5 + 1) })
        let bytes = NumPyArray(shape: [2, 3, 4], dtype: .float32, values: values).encode()
        let path = TestScratch.root.appendingPathComponent("eplb-tests-\(getpid())-axes.npy").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a 3-D .npy without --axes: exit 2, one line on stderr naming the file and --axes, nothing on stdout")
    func refused() throws {
        let path = try Self.trace()
        let r = try CLI.run(["solve", path, "--devices", "2", "--slots-per-device", "2"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == "eplb: error: \(path): the shape (2, 3, 4) could be [layers][episodes][experts] or [iterations][layers][experts]; pass --axes lte or --axes tle\n")
    }

    @Test("--axes tle reads (iterations, layers, experts) as layers × episodes; lte as the file says")
    func orders() throws {
        let path = try Self.trace()
        let tle = try CLI.run(["solve", path, "--axes", "tle", "--devices", "2", "--slots-per-device", "2", "--format", "table"])
        #expect(tle.status == 0, "\(tle.stderr)")
        #expect(tle.stdout.contains("3 layers × 2 episodes × 4 experts"))
        let lte = try CLI.run(["solve", path, "--axes", "lte", "--devices", "2", "--slots-per-device", "2", "--format", "table"])
        #expect(lte.status == 0, "\(lte.stderr)")
        #expect(lte.stdout.contains("2 layers × 3 episodes × 4 experts"))
    }

    @Test("evaluate and validate --instance take --axes too")
    func evaluateAndValidate() throws {
        let path = try Self.trace()
        let plan = try CLI.run(["solve", path, "--axes", "tle", "--devices", "2", "--slots-per-device", "2", "--omit-timing"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let planPath = try temporaryFile("axes-plan.json", plan.stdout)
        let evaluate = try CLI.run(["evaluate", path, "--axes", "tle", "--placement", planPath, "--devices", "2", "--slots-per-device", "2"])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        #expect(evaluate.stdout.contains("meanImbalance"))
        let valid = try CLI.run(["validate", planPath, "--instance", path, "--axes", "tle", "--devices", "2", "--slots-per-device", "2"])
        #expect(valid.status == 0, "\(valid.stderr)")
        let unordered = try CLI.run(["validate", planPath, "--instance", path, "--devices", "2", "--slots-per-device", "2"])
        #expect(unordered.status == 2 && unordered.stderr.contains("--axes"))
    }

    @Test("--axes tle on a JSON instance is refused; --axes on a bundled example is a usage error")
    func misuse() throws {
        let instance = try CLI.run(["example", "flashlb-toy"])
        let path = try temporaryFile("axes-toy.json", instance.stdout)
        let json = try CLI.run(["solve", path, "--axes", "tle"])
        #expect(json.status == 2 && json.stdout.isEmpty)
        #expect(json.stderr.hasPrefix("eplb: error: \(path): load: JSON loads are [layers][episodes][experts] by contract"))
        #expect(try CLI.run(["solve", path, "--axes", "lte", "--omit-timing"]).status == 0)
        #expect(try CLI.run(["solve", "--axes", "tle"]).status == 64)
        #expect(try CLI.run(["solve", path, "--axes", "lti"]).status == 64)
    }
}

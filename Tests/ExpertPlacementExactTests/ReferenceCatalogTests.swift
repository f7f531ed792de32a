import ExpertPlacement
import ExpertPlacementExact
import ExpertPlacementFormats
import Foundation
import Numerics
import Testing

/// The bundled reference placements (Examples/reference) stay true: valid, proven, and equal in
/// value to a fresh exact solve.
@Suite("Reference catalog")
struct ReferenceCatalogTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/reference")

    /// The instance file stems under `Examples/reference/<directory>/instances`.
    static func stems(_ directory: String) -> [String] {
        let dir = root.appendingPathComponent(directory + "/instances").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }

    static let names = stems(".")
    static let episodeNames = stems("episodes")

    @Test("the catalog is there")
    func present() {
        #expect(Self.names.count >= 5)
        #expect(Self.names.contains("flashlb-toy"))
    }

    @Test("each reference is valid, proven optimal, and matches a fresh exact solve", arguments: names)
    func recheck(name: String) throws {
        try Self.recheck(".", name, objective: .aggregateImbalance, boundSlack: 1e-12)
    }

    @Test("each multi-episode reference (objective mean) is valid, proven, and matches a fresh exact solve",
          arguments: episodeNames)
    func recheckEpisodes(name: String) throws {
        let problem = try Self.recheck("episodes", name, objective: .meanImbalance, timeLimit: .seconds(60), boundSlack: 1e-9)
        #expect(problem.episodes > 1)
    }

    /// Checks one stored reference: a valid plan, `solver` saying exact, optimal and `objective`,
    /// its value equal to a fresh exact solve's, and the fresh bound not above it (within
    /// `boundSlack`, relative). Returns the instance.
    @discardableResult
    static func recheck(_ directory: String, _ name: String, objective: Objective, timeLimit: Duration? = nil,
                        boundSlack: Double) throws -> Problem {
        let base = root.appendingPathComponent(directory)
        let instance = try InstanceFile.load(path: base.appendingPathComponent("instances/\(name).json").path).problem
        let path = base.appendingPathComponent("placements/\(name).placement.json").path
        let bytes = try InputSource.read(path)
        let plan = try PlacementFile.decode(bytes, file: path, experts: instance.experts)
        #expect(Validation.violations(of: plan, topology: instance.topology, experts: instance.experts,
                                      layers: instance.layers).isEmpty)
        guard case .object(let root) = try JSONParser.parse(bytes),
              case .object(let solver)? = root["solver"] else {
            Issue.record("no solver block")
            return instance
        }
        #expect(solver["status"] == .string("optimal"))
        #expect(solver["method"] == .string("exact"))
        #expect(solver["objective"] == .string(objective.rawValue))
        let fresh = try ExactSolver().solve(instance, options: SolveOptions(objective: objective, timeLimit: timeLimit))
        #expect(fresh.status == .optimal)
        let stored = try Metrics.evaluate(plan, on: instance)
        let recomputed = try Metrics.evaluate(fresh.placement, on: instance)
        for l in 0..<instance.layers {
            #expect(stored.layers[l].value(of: objective).isApproximatelyEqual(
                to: recomputed.layers[l].value(of: objective), relativeTolerance: 1e-8), "\(name) layer \(l)")
            #expect(fresh.lowerBounds![l] <= stored.layers[l].value(of: objective) * (1 + boundSlack))
        }
        return instance
    }
}

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

    static let names: [String] = {
        let dir = root.appendingPathComponent("instances").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }()

    @Test("the catalog is there")
    func present() {
        #expect(Self.names.count >= 5)
        #expect(Self.names.contains("flashlb-toy"))
    }

    @Test("each reference is valid, proven optimal, and matches a fresh exact solve", arguments: names)
    func recheck(name: String) throws {
        let instance = try InstanceFile.load(path: Self.root.appendingPathComponent("instances/\(name).json").path).problem
        let path = Self.root.appendingPathComponent("placements/\(name).placement.json").path
        let bytes = try InputSource.read(path)
        let plan = try PlacementFile.decode(bytes, file: path, experts: instance.experts)
        #expect(Validation.violations(of: plan, topology: instance.topology, experts: instance.experts,
                                      layers: instance.layers).isEmpty)
        guard case .object(let root) = try JSONParser.parse(bytes),
              case .object(let solver)? = root["solver"] else {
            Issue.record("no solver block")
            return
        }
        #expect(solver["status"] == .string("optimal"))
        #expect(solver["method"] == .string("exact"))
        let fresh = try ExactSolver().solve(instance, options: SolveOptions(objective: .aggregateImbalance))
        #expect(fresh.status == .optimal)
        let stored = try Metrics.evaluate(plan, on: instance)
        let recomputed = try Metrics.evaluate(fresh.placement, on: instance)
        for l in 0..<instance.layers {
            #expect(stored.layers[l].aggregateImbalance.isApproximatelyEqual(
                to: recomputed.layers[l].aggregateImbalance, relativeTolerance: 1e-8), "\(name) layer \(l)")
            #expect(fresh.lowerBounds![l] <= stored.layers[l].aggregateImbalance * (1 + 1e-12))
        }
    }

    static let episodeNames: [String] = {
        let dir = root.appendingPathComponent("episodes/instances").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }()

    @Test("each multi-episode reference (objective mean) is valid, proven, and matches a fresh exact solve",
          arguments: episodeNames)
    func recheckEpisodes(name: String) throws {
        let instance = try InstanceFile.load(path: Self.root.appendingPathComponent("episodes/instances/\(name).json").path).problem
        #expect(instance.episodes > 1)
        let path = Self.root.appendingPathComponent("episodes/placements/\(name).placement.json").path
        let bytes = try InputSource.read(path)
        let plan = try PlacementFile.decode(bytes, file: path, experts: instance.experts)
        #expect(Validation.violations(of: plan, topology: instance.topology, experts: instance.experts,
                                      layers: instance.layers).isEmpty)
        guard case .object(let root) = try JSONParser.parse(bytes), case .object(let solver)? = root["solver"] else {
            Issue.record("no solver block")
            return
        }
        #expect(solver["status"] == .string("optimal"))
        #expect(solver["objective"] == .string("meanImbalance"))
        let fresh = try ExactSolver().solve(instance, options: SolveOptions(objective: .meanImbalance, timeLimit: .seconds(60)))
        #expect(fresh.status == .optimal)
        let stored = try Metrics.evaluate(plan, on: instance)
        let recomputed = try Metrics.evaluate(fresh.placement, on: instance)
        for l in 0..<instance.layers {
            #expect(stored.layers[l].meanImbalance.isApproximatelyEqual(
                to: recomputed.layers[l].meanImbalance, relativeTolerance: 1e-8), "\(name) layer \(l)")
            #expect(fresh.lowerBounds![l] <= stored.layers[l].meanImbalance * (1 + 1e-9))
        }
    }
}

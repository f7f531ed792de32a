import ExpertPlacement
import ExpertPlacementTestSupport
import Numerics
import Testing

/// Token dropping: ``TokenDrop``, ``DropAnalysis``, ``DropObjective``, ``DropAwareSolver``.
@Suite("Token drop")
struct DropTests {
    /// Random device loads: some rows with ties, zeros and one dominant device.
    static func loads(_ rng: inout SeededGenerator) -> [Double] {
        let d = Int.random(in: 1...40, using: &rng)
        switch rng.next() % 4 {
        case 0: return (0..<d).map { _ in Double(Int.random(in: 0...5, using: &rng)) }  // ties and zeros
        case 1: return (0..<d).map { $0 == 0 ? 1000 : rng.nextUnit() }
        default: return (0..<d).map { _ in rng.nextUnit() * 100 }
        }
    }

    @Test("capacity equals the bisection on the definition; drops at most f·W and is the smallest such cap")
    func capacityMatchesDefinition() {
        var rng = SeededGenerator(seed: 1313)
        for trial in 0..<2_000 {
            let loads = Self.loads(&rng)
            let f = [0, 0.01, 0.05, 0.2, 0.5, 0.99, rng.nextUnit()][trial % 7]
            let c = TokenDrop.capacity(deviceLoads: loads, budget: f)
            let reference = DropBruteForce.capacity(loads, budget: f)
            let total = loads.reduce(0, +), peak = loads.max()!
            #expect(abs(c - reference) <= 1e-9 * Swift.max(1, peak), "trial \(trial): \(c) vs \(reference), f = \(f), \(loads)")
            #expect(TokenDrop.dropped(deviceLoads: loads, capacity: c) <= f * total + 1e-9 * Swift.max(1, total), "trial \(trial)")
            if c > 1e-9 * peak {
                #expect(TokenDrop.dropped(deviceLoads: loads, capacity: c * (1 - 1e-6)) > f * total, "trial \(trial)")
            }
            #expect(c <= peak)
        }
    }

    @Test("edge cases: f = 0 cuts at the peak, f ≥ 1 at 0, a load-free row at 0 with ρ = 1")
    func edgeCases() {
        let loads: [Double] = [3, 9, 0, 4]
        #expect(TokenDrop.capacity(deviceLoads: loads, budget: 0) == 9)
        #expect(TokenDrop.capacity(deviceLoads: loads, budget: 1) == 0)
        #expect(TokenDrop.capacity(deviceLoads: loads, budget: 1.5) == 0)
        // Dropping 2 of 16 tokens: only the peak device is above the cap, 9 − 2 = 7.
        #expect(TokenDrop.capacity(deviceLoads: loads, budget: 2.0 / 16).isApproximatelyEqual(to: 7, relativeTolerance: 1e-12))
        // Dropping 6: two devices above the cap, (9 + 4 − 6)/2 = 3.5.
        #expect(TokenDrop.capacity(deviceLoads: loads, budget: 6.0 / 16).isApproximatelyEqual(to: 3.5, relativeTolerance: 1e-12))
        let zero = DropCut(deviceLoads: [0, 0, 0], rule: .budget(0.1))
        #expect(zero.capacity == 0 && zero.dropped == 0 && zero.droppedFraction == 0)
        #expect(zero.imbalanceBefore == 1 && zero.imbalanceAfter == 1)
        #expect(TokenDrop.capacity(deviceLoads: [Double](), budget: 0.1) == 0)
    }

    @Test("capacity factor: γ ≥ ρ drops nothing and keeps ρ; γ < ρ gives imbalanceAfter = γ")
    func capacityFactor() {
        var rng = SeededGenerator(seed: 77)
        for trial in 0..<500 {
            let loads = Self.loads(&rng)
            guard loads.reduce(0, +) > 0 else { continue }
            let rho = DropCut(deviceLoads: loads, rule: .budget(0)).imbalanceBefore
            let above = DropCut(deviceLoads: loads, rule: .capacityFactor(rho * (1 + 1e-9) + rng.nextUnit()))
            #expect(above.dropped == 0 && above.imbalanceAfter == above.imbalanceBefore, "trial \(trial)")
            let gamma = rho * (0.5 + 0.49 * rng.nextUnit())
            let cut = DropCut(deviceLoads: loads, rule: .capacityFactor(gamma))
            #expect(cut.imbalanceAfter.isApproximatelyEqual(to: gamma, relativeTolerance: 1e-12), "trial \(trial)")
            #expect(cut.dropped > 0)
            let direct = loads.reduce(0) { $0 + Swift.max(0, $1 - cut.capacity) }
            #expect(cut.dropped.isApproximatelyEqual(to: direct, relativeTolerance: 1e-12))
        }
    }

    @Test("the analysis equals a direct computation per layer and episode on random instances")
    func analysisMatchesDirect() throws {
        for seed in 0..<60 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 4_200, maxDevices: 9, maxSlots: 4, maxLayers: 3, maxEpisodes: 4)
            let placement = try GreedySolver().solve(problem).placement
            let f = [0.0, 0.03, 0.1, 0.4][seed % 4]
            let layers = try DropAnalysis.analyse(placement, on: problem, rule: .budget(f))
            let d = problem.topology.devices, s = problem.topology.slotsPerDevice
            for l in 0..<problem.layers {
                let plan = placement.physicalToLogical(layer: l)
                var replicas = [Double](repeating: 0, count: problem.experts)
                for x in plan { replicas[x] += 1 }
                for t in 0..<problem.episodes {
                    let device = (0..<d).map { dev in (0..<s).reduce(0.0) { $0 + problem.loads[l, t, plan[dev * s + $1]] / replicas[plan[dev * s + $1]] } }
                    let cut = layers[l].episodes[t]
                    let c = DropBruteForce.capacity(device, budget: f)
                    #expect(abs(cut.capacity - c) <= 1e-9 * Swift.max(1, device.max()!), "seed \(seed) layer \(l) episode \(t)")
                    for dev in 0..<d {
                        #expect(abs(cut.droppedPerDevice[dev] - Swift.max(0, device[dev] - cut.capacity)) <= 1e-9 * Swift.max(1, device[dev]))
                    }
                    let total = device.reduce(0, +)
                    if total > 0 {
                        #expect(cut.imbalanceAfter.isApproximatelyEqual(to: Swift.min(device.max()!, cut.capacity) * Double(d) / total,
                                                                        relativeTolerance: 1e-9))
                    }
                }
                let naive = DropBruteForce.cappedValue(placement.physicalToLogical.dropFirst(l * d * s).prefix(d * s).map { $0 },
                                                       problem, layer: l, objective: .meanImbalance, budget: f)
                #expect(layers[l].meanImbalanceAfter.isApproximatelyEqual(to: naive, relativeTolerance: 1e-8), "seed \(seed) layer \(l)")
            }
        }
    }

    @Test("the capped objective equals the definitions for every objective; f = 0 is the objective itself",
          arguments: Objective.allCases)
    func objectiveMatchesDefinitions(objective: Objective) throws {
        for seed in 0..<40 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 9_100, maxDevices: 8, maxSlots: 3, maxLayers: 2, maxEpisodes: 5)
            let placement = try SearchSolver().solve(problem, options: SolveOptions(objective: objective)).placement
            let metrics = try Metrics.evaluate(placement, on: problem)
            for f in [0.0, 0.05, 0.3] {
                let values = DropObjective.values(placement, on: problem, objective: objective, budget: f)
                let p = placement.slotsPerLayer
                for l in 0..<problem.layers {
                    let naive = DropBruteForce.cappedValue(Array(placement.physicalToLogical[l * p ..< (l + 1) * p]), problem,
                                                           layer: l, objective: objective, budget: f)
                    #expect(values[l].isApproximatelyEqual(to: naive, absoluteTolerance: 1e-9, relativeTolerance: 1e-8),
                            "seed \(seed) layer \(l) f \(f): \(values[l]) vs \(naive)")
                    if f == 0 {
                        #expect(values[l].isApproximatelyEqual(to: metrics.layers[l].value(of: objective), absoluteTolerance: 1e-9,
                                                               relativeTolerance: 1e-9))
                    }
                }
            }
        }
    }

    @Test("drop-aware search: valid plans, never worse than the base method's on the capped objective, deterministic")
    func dropAwareSolver() throws {
        for seed in 0..<30 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 700, maxDevices: 8, maxSlots: 4, maxLayers: 2, maxEpisodes: 4)
            let f = [0.02, 0.1, 0.25][seed % 3]
            let base = try GreedySolver().solve(problem)
            let report = try DropAwareSolver(base: GreedySolver(), budget: f).solve(problem)
            #expect(Validation.violations(of: report.placement).isEmpty, "seed \(seed)")
            let before = DropObjective.values(base.placement, on: problem, objective: .meanImbalance, budget: f)
            let after = DropObjective.values(report.placement, on: problem, objective: .meanImbalance, budget: f)
            for l in 0..<problem.layers { #expect(after[l] <= before[l] * (1 + 1e-12), "seed \(seed) layer \(l)") }
            #expect(report.lowerBounds == nil && report.status != .optimal)
            let again = try DropAwareSolver(base: GreedySolver(), budget: f).solve(problem)
            #expect(again.placement == report.placement, "seed \(seed)")
        }
    }

    @Test("drop-aware search lowers the capped peak on the FlashLB toy; f = 0 returns the base plan")
    func toy() throws {
        let problem = BundledExample.flashlbToy.problem
        let greedy = try GreedySolver().solve(problem).placement
        let refined = try DropAwareSolver(base: GreedySolver(), budget: 0.1).solve(problem).placement
        let before = DropObjective.values(greedy, on: problem, objective: .meanImbalance, budget: 0.1)[0]
        let after = DropObjective.values(refined, on: problem, objective: .meanImbalance, budget: 0.1)[0]
        #expect(after < before)
        #expect(try DropAwareSolver(base: GreedySolver(), budget: 0).solve(problem).placement == greedy)
        #expect(throws: ExpertPlacementError.self) { try DropAwareSolver(base: GreedySolver(), budget: 1).solve(problem) }
    }

    @Test("with a move cap the drop-aware plan stays within it; rebalance scores the capped objective")
    func movesAndRebalance() throws {
        for seed in 0..<15 {
            let problem = RandomInstances.problem(seed: UInt64(seed) &+ 5_500, maxDevices: 8, maxSlots: 4, maxLayers: 2,
                                                  maxEpisodes: 3, withCurrent: true)
            let cap = seed % 4
            let options = SolveOptions(moves: MovePolicy(maxMoves: cap))
            let report = try DropAwareSolver(base: SearchSolver(), budget: 0.1).solve(problem, options: options)
            #expect(Validation.violations(of: report.placement).isEmpty, "seed \(seed)")
            for l in 0..<problem.layers {
                #expect(report.placement.moves(from: problem.current!, layer: l) <= cap, "seed \(seed) layer \(l)")
            }
            var rebalance = RebalanceOptions()
            rebalance.dropBudget = 0.1
            let plan = try Rebalancer.plan(problem, solver: DropAwareSolver(base: SearchSolver(), budget: 0.1), options: rebalance)
            let capped = DropObjective.values(plan.placement, on: problem, objective: .meanImbalance, budget: 0.1)
            for l in 0..<problem.layers {
                #expect(plan.recordedImbalance[l].isApproximatelyEqual(to: capped[l], relativeTolerance: 1e-12), "seed \(seed)")
                #expect(plan.layers[l].after.cappedImbalance != nil)
            }
        }
    }
}

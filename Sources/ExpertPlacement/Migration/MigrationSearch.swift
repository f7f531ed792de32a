import HeapModule

/// Migration-aware re-placement: the best plan for `objective + cost · moves` (and/or the
/// objective under a move cap) from a deployed placement, at full model size in milliseconds.
///
/// A rebalance never starts from a blank slate: every replica whose slot changes is a weight
/// transfer that can stall serving. Given the deployed row and, optionally, a target plan (a
/// method's full re-solve, already relabelled onto the deployed devices by ``Alignment``), the
/// search keeps the best of:
/// 1. the deployed plan itself (no move; also when a device holds an expert twice, as DeepSeek
///    EPLB's packing can leave it: the descents then start from its repair, each second replica
///    replaced by the replica that relieves the most load);
/// 2. the target, when it fits the cap;
/// 3. iterated local search (the search solver's swap and replica-transfer neighbourhoods, see
///    `Search.md`) from the deployed plan on the penalised objective: a swap changes two slots, a
///    transfer one, and each candidate is charged `cost · Δmoves` (a move back to the deployed
///    expert earns the cost back); moves beyond the cap are never taken. Under a cap the descent
///    is also run at those of a few Lagrangian prices `λ` around the target's gain per move that
///    exceed the cost (the price that makes the cheapest gains go first), each followed by a
///    descent at the cost itself to spend what is left of the cap;
/// 4. from the target, a reverse path: undo its moves one at a time (putting a slot's deployed
///    expert back by a replica transfer or a swap with a device that holds it), always the undo
///    that costs the least objective per move saved, until the plan fits the cap (or, with a cost,
///    while an undo costs less than the price of the moves it saves); then the local search above
///    from there. Going forward from the deployed plan finds the cheap gains; going back from the
///    re-solve keeps the structure a local search cannot build (a hot expert spread over devices
///    through a chain of swaps, none of which pays alone — Switch-128's top-1 loads need this).
///
/// Ties in the penalised value go to the plan with fewer moves. The objective is the layer's
/// ``ObjectiveModel`` (episodes beyond the search's cap summed into blocks).
///
/// Complexity: the local-search budget of ``SearchSolver/Configuration`` per start; O(T·D) per
/// applied move.
public enum MigrationSearch {
    /// The refined row for one layer.
    ///
    /// - Parameters:
    ///   - layer: the layer.
    ///   - deployed: its deployed row (`D·S` ids, device-major, valid).
    ///   - target: a plan to move towards (valid, aligned onto `deployed`), or `nil`.
    ///   - objective: what to minimise.
    ///   - policy: the move cost and/or cap.
    ///   - configuration: the search's budgets (local-search evaluations, episode cap).
    ///   - context: when to stop.
    /// - Returns: a valid row with at most `policy.maxMoves` moves from `deployed`.
    public static func refine(_ layer: ProblemLayer, deployed: ContiguousArray<Int32>, target: ContiguousArray<Int32>?,
                              objective: Objective, policy: MovePolicy,
                              configuration c: SearchSolver.Configuration = .init(),
                              context: LayerContext) -> ContiguousArray<Int32> {
        let model = LayerModel(problem: layer.problem, layer: layer.index, objective: objective, episodeCap: c.episodeCap)
        return refine(layer, model: model, deployed: deployed, target: target, policy: policy, configuration: c,
                      context: context)
    }

    /// A method's outcome fitted to a move policy: its plan relabelled onto the deployed row
    /// (``Alignment``), then refined for `policy`; a proven status becomes feasible when the
    /// refinement changes the plan. The one step every method that does not trade moves itself
    /// goes through (``LayerDriver``, ``DropAwareSolver``), and the search solver with its own
    /// model and budgets.
    static func fitted(_ outcome: LayerOutcome, layer: ProblemLayer, deployed: ContiguousArray<Int32>,
                       objective: Objective, policy: MovePolicy,
                       configuration c: SearchSolver.Configuration = .init(), model: LayerModel? = nil,
                       context: LayerContext) -> LayerOutcome {
        var fitted = outcome
        let aligned = Alignment.align(outcome.physicalToLogical, onto: deployed,
                                      slotsPerDevice: layer.topology.slotsPerDevice, experts: layer.experts)
        let model = model ?? LayerModel(problem: layer.problem, layer: layer.index, objective: objective,
                                        episodeCap: c.episodeCap)
        fitted.physicalToLogical = refine(layer, model: model, deployed: deployed, target: aligned, policy: policy,
                                          configuration: c, context: context)
        // A proof of the objective's optimum stays a proof for the policy only when the plan is the
        // proven one and it pays no move cost (within a cap alone, the unconstrained optimum that
        // fits is optimal; with a cost, a plan as good with fewer moves would beat it).
        let proofHolds = fitted.physicalToLogical == aligned
            && (policy.cost == 0 || Alignment.moves(aligned, from: deployed) == 0)
        if fitted.status == .optimal && !proofHolds { fitted.status = .feasible }
        return fitted
    }

    /// ``refine(_:deployed:target:objective:policy:configuration:context:)`` on a model already
    /// built (the search solver's own, so that a layer's loads are blocked once).
    static func refine(_ layer: ProblemLayer, model: LayerModel, deployed: ContiguousArray<Int32>,
                       target: ContiguousArray<Int32>?, policy: MovePolicy, configuration c: SearchSolver.Configuration,
                       context: LayerContext) -> ContiguousArray<Int32> {
        let state = SearchState(model: model), best = SearchState(model: model), scratch = SearchState(model: model)
        for st in [state, best, scratch] { st.setDeployed(deployed) }
        var search = LocalSearch(configuration: c, episodes: model.episodes)
        search.moveCost = policy.cost
        search.moveCap = policy.maxMoves

        func penalised(_ s: SearchState) -> Double { s.objective() + policy.cost * Double(s.moveCount) }
        func better(_ a: SearchState, than b: SearchState) -> Bool {
            let va = penalised(a), vb = penalised(b)
            if va < vb * (1 - 1e-12) { return true }
            return va <= vb * (1 + 1e-12) && a.moveCount < b.moveCount
        }
        func fits(_ s: SearchState) -> Bool { policy.maxMoves.map { s.moveCount <= $0 } ?? true }

        // A deployed row with an expert twice on a device (DeepSeek EPLB's packing can make one;
        // vLLM and SGLang serve it) is not a search state: it stays a candidate as it is (no
        // move, valued as ``Metrics`` values it), and the descents start from its repair, each
        // second replica replaced by the replica that relieves the most load.
        let duplicated = Validation.hasDuplicateOnDevice(deployed, slotsPerDevice: layer.topology.slotsPerDevice)
        guard let start = duplicated ? repaired(deployed, model: model) ?? target : deployed else { return deployed }
        best.load(physicalToLogical: start)
        // Whether `best` holds a candidate (a repaired row may need more moves than the cap).
        var holdsCandidate = fits(best)
        func consider(_ st: SearchState) {
            if fits(st) && (!holdsCandidate || better(st, than: best)) {
                best.copy(from: st)
                holdsCandidate = true
            }
        }
        let deployedValue = duplicated ? value(of: deployed, model: model) : best.objective()
        var targetGain = 0.0, targetMoves = 0
        if let target {
            state.load(physicalToLogical: target)
            targetGain = deployedValue - state.objective()
            targetMoves = state.moveCount
            consider(state)
        }
        let seed = UInt64(layer.index) &* 0x9E37_79B9 &+ 7
        // Descents from the deployed plan: at the policy's price, and under a cap first at a few
        // higher Lagrangian prices, each then continued at the policy's price within the cap.
        var prices = [policy.cost]
        if policy.maxMoves != nil, targetMoves > 0, targetGain > 0 {
            let unit = targetGain / Double(targetMoves)
            prices = [2 * unit, unit, unit / 2].filter { $0 > policy.cost } + [policy.cost]
        }
        for price in prices {
            if context.shouldStop() { break }
            state.load(physicalToLogical: start)
            var priced = search
            priced.moveCost = price
            priced.iterate(state: state, best: scratch, seed: seed, stop: context)
            if price > policy.cost {
                // Spend what is left of the cap at the policy's own price.
                var rest = search
                rest.moveCost = policy.cost
                rest.iterate(state: state, best: scratch, seed: seed &+ 1, stop: context)
            }
            consider(state)
        }
        // From the target: the reverse path, then the local search.
        if let target, targetMoves > 0, !context.shouldStop() {
            state.load(physicalToLogical: target)
            undo(state, deployed: deployed, cap: policy.maxMoves, price: policy.cost, stop: context)
            if fits(state) {
                search.iterate(state: state, best: scratch, seed: seed &+ 2, stop: context)
                consider(state)
            }
        }
        if duplicated && !(holdsCandidate && penalised(best) < deployedValue) { return deployed }
        let row = best.physicalToLogical()
        return Alignment.align(row, onto: deployed, slotsPerDevice: layer.topology.slotsPerDevice, experts: layer.experts)
    }

    /// A deployed row with every second replica of an expert on a device replaced, device by
    /// device in slot order, by a replica of an expert not on that device whose next replica
    /// relieves the most load (`w/(r·(r+1))` on the model's summed rows, `r` the devices holding
    /// it; ties to the lower id). Counting devices, not replicas, an expert missing from a device
    /// is on fewer than `D` devices, so a replacement exists whenever `E ≥ S`; `nil` otherwise.
    static func repaired(_ row: ContiguousArray<Int32>, model: LayerModel) -> ContiguousArray<Int32>? {
        let d = model.devices, s = model.slotsPerDevice, e = model.experts, t = model.episodes
        var out = row
        var holders = [Int](repeating: 0, count: e)  // devices holding each expert
        for dev in 0..<d {
            for k in 0..<s where !row[dev * s ..< dev * s + k].contains(row[dev * s + k]) { holders[Int(row[dev * s + k])] += 1 }
        }
        var total = [Double](repeating: 0, count: e)
        for x in 0..<e { for i in 0..<t { total[x] += model.u[x * t + i] } }
        for dev in 0..<d {
            let slots = dev * s ..< (dev + 1) * s
            for i in slots where out[slots.lowerBound ..< i].contains(out[i]) {
                var chosen = -1, relief = -Double.infinity
                for y in 0..<e where !out[slots].contains(Int32(y)) {
                    let r = Double(Swift.max(1, holders[y]))
                    let gain = total[y] / (r * (r + 1))
                    if gain > relief { (chosen, relief) = (y, gain) }
                }
                guard chosen >= 0 else { return nil }
                holders[chosen] += 1
                out[i] = Int32(chosen)
            }
        }
        return out
    }

    /// The model's value of a row that may hold an expert twice on a device: each expert's load
    /// split evenly over all its replicas, as ``Metrics`` does (``ObjectiveModel``'s one
    /// evaluation of a plan, on the model's rows). O(T'·P).
    ///
    /// - Precondition: a sum or max model (the migration search never uses a risk-mode model).
    static func value(of row: ContiguousArray<Int32>, model: LayerModel) -> Double {
        precondition(model.mode != .risk, "MigrationSearch.value: a risk-mode model")
        let e = model.experts, t = model.episodes
        let rows = (0..<t).lazy.map { i in (0..<e).lazy.map { x in model.u[x * t + i] } }
        let peaks = ObjectiveModel.rowPeaks(row, rows: rows, experts: e, slotsPerDevice: model.slotsPerDevice)
        return model.mode == .sum ? peaks.reduce(model.constant, +) : peaks.reduce(model.constant) { Swift.max($0, $1) }
    }

    /// One undo of the reverse path.
    enum Undo {
        case transfer(device: Int, slot: Int, expert: Int)
        case swap(Int, Int, Int, Int)
    }

    /// The reverse path from the state towards `deployed`: undo moves, cheapest objective per move
    /// saved first, until the move count fits `cap` (when set) and no undo costs less than `price`
    /// per move saved. Stops when no slot can be put back (the state may then exceed the cap).
    ///
    /// Lazy greedy: every changed slot's best undo is kept in a heap by its ratio; the top is
    /// re-evaluated on the current state and applied only if it is still no worse than the next
    /// one's (possibly stale) ratio, else pushed back. So each step evaluates a few slots instead
    /// of all of them. The heap is rebuilt from every changed slot about 32 times along the path
    /// (ratios drift as the state leaves the target), and once more when it runs dry while undos
    /// are still needed.
    static func undo(_ state: SearchState, deployed: ContiguousArray<Int32>, cap: Int?, price: Double,
                     stop: LayerContext) {
        let n = state.d * state.s
        var heap = Heap<Candidate>()
        func rebuild() {
            heap = Heap()
            for i in 0..<n where state.slots[i] != deployed[i] {
                if let (ratio, _) = bestUndo(state, slot: i, deployed: deployed) { heap.insert(Candidate(ratio: ratio, slot: i)) }
            }
        }
        rebuild()
        var rebuilt = false
        // Ratios go stale as the state moves away from the target: every `refresh` undos the heap
        // is rebuilt from the current state (about 32 rebuilds over the whole path).
        let refresh = Swift.max(4, state.moveCount / 32)
        var sinceRebuild = 0
        while state.moveCount > 0 && !stop.shouldStop() {
            if sinceRebuild >= refresh {
                rebuild()
                sinceRebuild = 0
            }
            let overCap = cap.map { state.moveCount > $0 } ?? false
            guard let top = heap.popMin() else {
                guard overCap && !rebuilt else { return }
                rebuilt = true
                rebuild()
                if heap.isEmpty { return }
                continue
            }
            guard state.slots[top.slot] != deployed[top.slot],
                  let (ratio, undo) = bestUndo(state, slot: top.slot, deployed: deployed) else { continue }
            if let next = heap.min, ratio > next.ratio {
                heap.insert(Candidate(ratio: ratio, slot: top.slot))
                continue
            }
            if !overCap && !(ratio < price) { return }
            switch undo {
            case .transfer(let dev, let k, let y): state.applyTransfer(device: dev, slot: k, to: y)
            case .swap(let d1, let k1, let d2, let k2): state.applySwap(d1, k1, d2, k2)
            }
            rebuilt = false
            sinceRebuild += 1
        }
    }

    /// A changed slot and the ratio of its best undo (objective change per move saved).
    struct Candidate: Comparable {
        var ratio: Double
        var slot: Int
        static func < (a: Candidate, b: Candidate) -> Bool { a.ratio != b.ratio ? a.ratio < b.ratio : a.slot < b.slot }
    }

    /// The best way to put slot `i`'s deployed expert back, with its objective change per move
    /// saved: a replica transfer in the slot, or a swap with a device that holds the expert.
    static func bestUndo(_ state: SearchState, slot i: Int, deployed: ContiguousArray<Int32>) -> (Double, Undo)? {
        let d = state.d, s = state.s, e = state.e
        let dev = i / s, k = i % s
        let x = Int(state.slots[i]), y = Int(deployed[i])
        if state.holds[dev * e + y] != 0 { return nil }
        let current = state.objective()
        var best: (Double, Undo)? = nil
        if state.counts[x] >= 2 && Int(state.counts[y]) < d {
            let saved = -state.movesDelta(device: dev, slot: k, to: y)
            if saved > 0 {
                let ratio = (state.evaluateTransfer(device: dev, slot: k, to: y, cutoff: .infinity) - current) / Double(saved)
                best = (ratio, .transfer(device: dev, slot: k, expert: y))
            }
        }
        for d2 in 0..<d where d2 != dev && state.holds[d2 * e + y] != 0 && state.holds[d2 * e + x] == 0 {
            var k2 = 0
            while Int(state.slots[d2 * s + k2]) != y { k2 += 1 }
            let saved = -state.movesDelta(swap: dev, k, d2, k2)
            guard saved > 0 else { continue }
            let ratio = (state.evaluateSwap(dev, k, d2, k2, cutoff: .infinity) - current) / Double(saved)
            if ratio < (best?.0 ?? .infinity) { best = (ratio, .swap(dev, k, d2, k2)) }
        }
        return best
    }
}

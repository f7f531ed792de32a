/// One weight transfer of a rebalance: expert `expert` is copied from device `source` (which
/// holds it in the deployed placement) into local slot `slot` of device `destination`.
public struct Transfer: Sendable, Hashable {
    /// The logical expert copied.
    public var expert: Int
    /// The device that sends it (a holder of the expert in the deployed placement).
    public var source: Int
    /// The device that receives it.
    public var destination: Int
    /// The local slot (`0..<S`) on `destination` that it fills.
    public var slot: Int

    /// Creates a transfer.
    public init(expert: Int, source: Int, destination: Int, slot: Int) {
        self.expert = expert
        self.source = source
        self.destination = destination
        self.slot = slot
    }
}

/// The transfers that turn one layer's deployed row into a new row, with each sender chosen so
/// that the busiest sender sends as little as possible.
///
/// Every slot whose expert changes needs the new expert's weights, copied from a device that
/// holds that expert in the deployed row (all copies are read before any slot is overwritten, as
/// the engines do with a staging buffer). An expert sent to `N` new places costs `N` transfers.
/// Senders are chosen by a bottleneck assignment: the smallest cap `c` such that every transfer
/// gets a holder and no device sends more than `c` (bipartite b-matching by augmenting paths,
/// trying `c` upwards from the lower bound `⌈transfers / holders⌉`), ties to the lowest device.
///
/// Complexity: O(c·M²·r) for `M` transfers and `r` holders per expert, small for a layer.
public enum TransferPlan {
    /// The transfers turning `deployed` into `plan` (both `D·S` expert ids, device-major; every
    /// expert of `plan` must have a holder in `deployed`), in slot order.
    public static func transfers(from deployed: some Collection<Int32>, to plan: some Collection<Int32>,
                                 slotsPerDevice s: Int, experts: Int) -> [Transfer] {
        let old = Array(deployed), new = Array(plan)
        precondition(old.count == new.count && old.count % s == 0, "rows of different shapes")
        let d = old.count / s
        var holders = [[Int]](repeating: [], count: experts)
        for p in 0..<old.count {
            let x = Int(old[p])
            if holders[x].last != p / s { holders[x].append(p / s) }
        }
        var needs: [(expert: Int, destination: Int, slot: Int)] = []
        for p in 0..<new.count where new[p] != old[p] {
            precondition(!holders[Int(new[p])].isEmpty, "expert \(new[p]) has no holder in the deployed row")
            needs.append((Int(new[p]), p / s, p % s))
        }
        guard !needs.isEmpty else { return [] }
        let senders = Set(needs.flatMap { holders[$0.expert] }).count
        var cap = Swift.max(1, (needs.count + senders - 1) / senders)
        while true {
            if let sources = assign(needs.map { holders[$0.expert] }, devices: d, cap: cap) {
                return zip(needs, sources).map { Transfer(expert: $0.0.expert, source: $0.1, destination: $0.0.destination, slot: $0.0.slot) }
            }
            cap += 1
        }
    }

    /// The busiest device's sends and receives of a list of transfers: `(maxSent, maxReceived)`.
    public static func busiest(_ transfers: [Transfer], devices: Int) -> (sent: Int, received: Int) {
        var sent = [Int](repeating: 0, count: devices), received = [Int](repeating: 0, count: devices)
        for t in transfers {
            sent[t.source] += 1
            received[t.destination] += 1
        }
        return (sent.max() ?? 0, received.max() ?? 0)
    }

    /// A holder per need with at most `cap` needs per device, or `nil` when none exists.
    static func assign(_ candidates: [[Int]], devices: Int, cap: Int) -> [Int]? {
        var load = [Int](repeating: 0, count: devices)
        var owners = [[Int]](repeating: [], count: devices)  // needs assigned to each device
        var choice = [Int](repeating: -1, count: candidates.count)
        for need in candidates.indices {
            var visited = [Bool](repeating: false, count: devices)
            guard augment(need, candidates, cap, &load, &owners, &choice, &visited) else { return nil }
        }
        return choice
    }

    /// Kuhn's augmenting path for one need: a holder with room, or one whose needs can move on.
    private static func augment(_ need: Int, _ candidates: [[Int]], _ cap: Int, _ load: inout [Int],
                                _ owners: inout [[Int]], _ choice: inout [Int], _ visited: inout [Bool]) -> Bool {
        for dev in candidates[need] where !visited[dev] {
            visited[dev] = true
            if load[dev] < cap {
                load[dev] += 1
                owners[dev].append(need)
                choice[need] = dev
                return true
            }
            for (i, other) in owners[dev].enumerated()
            where augment(other, candidates, cap, &load, &owners, &choice, &visited) {
                // `other` moved to another holder (its load counted there): take its place here.
                owners[dev].remove(at: i)
                owners[dev].append(need)
                choice[need] = dev
                return true
            }
        }
        return false
    }
}

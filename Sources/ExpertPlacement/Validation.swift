/// One broken rule of a placement, with where it is broken.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    /// The rules a valid placement keeps (INTERFACE.md §1).
    public enum Rule: String, Sendable, Hashable, CaseIterable {
        /// The number of layers, slots or experts disagrees with the instance.
        case shape
        /// An expert id outside `0..<E`.
        case expertIdInRange
        /// Every logical expert has at least one replica.
        case everyExpertPresent
        /// No device holds two replicas of one expert (vllm-ascend's worker rejects such plans;
        /// DeepSeek's reference can produce them).
        case noDuplicateOnDevice
        /// A change of a deployed placement keeps every expert that stays on a device in its
        /// slot (vllm-ascend's worker reverts a layer that breaks this; a slot move is a
        /// needless weight copy).
        case keepsSlotOnDevice
    }

    /// The rule broken.
    public var rule: Rule
    /// The layer, when the violation is inside one.
    public var layer: Int?
    /// The device, when the violation is on one.
    public var device: Int?
    /// The expert concerned, when there is one.
    public var expert: Int?
    /// A sentence a user can act on.
    public var message: String

    /// Creates a violation record.
    public init(rule: Rule, layer: Int? = nil, device: Int? = nil, expert: Int? = nil, message: String) {
        self.rule = rule
        self.layer = layer
        self.device = device
        self.expert = expert
        self.message = message
    }

    /// `layer L, device D, expert E: message`.
    public var description: String {
        var parts: [String] = []
        if let layer { parts.append("layer \(layer)") }
        if let device { parts.append("device \(device)") }
        if let expert { parts.append("expert \(expert)") }
        return parts.isEmpty ? message : parts.joined(separator: ", ") + ": " + message
    }
}

/// The validator: checks a placement against the rules of INTERFACE.md §1.
public enum Validation {
    /// All violations of a placement, in layer, then device, then expert order (empty when valid).
    ///
    /// - Parameters:
    ///   - placement: the plan to check.
    ///   - topology: the instance's topology, when checking against an instance (its device and
    ///     slot counts must match the plan's).
    ///   - experts: the instance's expert count, when known.
    ///   - layers: the instance's layer count, when known.
    ///   - limit: stop after this many violations (a broken 58-layer plan can have thousands).
    /// - Complexity: O(L·(P + E)).
    public static func violations(of placement: Placement, topology: Topology? = nil,
                                  experts: Int? = nil, layers: Int? = nil,
                                  limit: Int = 1_000) -> [Violation] {
        violations(of: placement, topology: topology, experts: experts, layers: layers, limit: limit, against: "the instance")
    }

    /// ``violations(of:topology:experts:layers:limit:)`` whose shape messages name what the plan
    /// is checked against (`the instance`, `the deployed placement`).
    static func violations(of placement: Placement, topology: Topology?, experts: Int?, layers: Int?, limit: Int,
                           against reference: String) -> [Violation] {
        var out: [Violation] = []
        if let topology, topology.devices != placement.topology.devices
            || topology.slotsPerDevice != placement.topology.slotsPerDevice {
            out.append(Violation(rule: .shape, message:
                "the placement is for \(placement.topology.devices) devices × \(placement.topology.slotsPerDevice) slots but \(reference) has \(topology.devices) × \(topology.slotsPerDevice)"))
            return out
        }
        if let experts, experts != placement.experts {
            out.append(Violation(rule: .shape, message:
                "the placement is for \(placement.experts) experts but \(reference) has \(experts)"))
            return out
        }
        if let layers, layers != placement.layers {
            out.append(Violation(rule: .shape, message:
                "the placement has \(placement.layers) layers but \(reference) has \(layers)"))
            return out
        }
        let e = placement.experts, s = placement.topology.slotsPerDevice
        let d = placement.topology.devices, p = placement.slotsPerLayer
        var seen = [Int](repeating: -1, count: e)  // device that last held the expert in this layer
        var present = [Bool](repeating: false, count: e)
        var onDevice = [Int](repeating: 0, count: e)  // replicas of the expert on device `seen` so far
        layerLoop: for l in 0..<placement.layers {
            for i in 0..<e { seen[i] = -1; present[i] = false }
            for dev in 0..<d {
                for local in 0..<s {
                    let slot = dev * s + local
                    let x = Int(placement.physicalToLogical[l * p + slot])
                    guard x >= 0 && x < e else {
                        out.append(Violation(rule: .expertIdInRange, layer: l, device: dev, expert: x,
                                             message: "slot \(slot) holds expert id \(x), outside 0..<\(e)"))
                        if out.count >= limit { break layerLoop }
                        continue
                    }
                    onDevice[x] = seen[x] == dev ? onDevice[x] + 1 : 1
                    if onDevice[x] > 1 {
                        let k = onDevice[x]
                        out.append(Violation(rule: .noDuplicateOnDevice, layer: l, device: dev, expert: x, message: k == 2
                            ? "two replicas on one device (second in slot \(slot))"
                            : "\(k) replicas on one device (replica \(k) in slot \(slot))"))
                        if out.count >= limit { break layerLoop }
                    }
                    seen[x] = dev
                    present[x] = true
                }
            }
            for x in 0..<e where !present[x] {
                out.append(Violation(rule: .everyExpertPresent, layer: l, expert: x, message: "has no replica"))
                if out.count >= limit { break layerLoop }
            }
        }
        return out
    }

    /// The rules a serving worker enforces when a deployed placement is changed into `placement`:
    /// every rule of ``violations(of:topology:experts:layers:limit:)`` (no expert lost, no expert
    /// twice on a device, …) and ``Violation/Rule/keepsSlotOnDevice``. A layer identical to the
    /// deployed one is not checked for ``Violation/Rule/noDuplicateOnDevice`` (the worker checks the
    /// layers it changes).
    ///
    /// - Complexity: O(L·(P + E)).
    public static func changeViolations(of placement: Placement, from current: Placement, limit: Int = 1_000) -> [Violation] {
        let p = placement.slotsPerLayer
        // A layer left as deployed is no change: an expert it holds twice on a device (a map from
        // DeepSeek EPLB, vLLM or SGLang) is the deployed engine's business, not the change's.
        func unchanged(_ l: Int) -> Bool {
            current.physicalToLogical[l * p ..< (l + 1) * p] == placement.physicalToLogical[l * p ..< (l + 1) * p]
        }
        var out = Array(violations(of: placement, topology: current.topology, experts: current.experts,
                                   layers: current.layers, limit: Int.max, against: "the deployed placement").lazy
            .filter { $0.rule != .noDuplicateOnDevice || !unchanged($0.layer!) }.prefix(limit))
        guard out.allSatisfy({ $0.rule != .shape && $0.rule != .expertIdInRange }) else { return out }
        let s = placement.topology.slotsPerDevice, d = placement.topology.devices
        var slotOf = [Int](repeating: -1, count: current.experts)  // the expert's local slot on the old device
        layerLoop: for l in 0..<placement.layers {
            for dev in 0..<d {
                let base = l * p + dev * s
                for k in 0..<s {
                    let x = Int(current.physicalToLogical[base + k])
                    if x >= 0 && x < current.experts { slotOf[x] = k }
                }
                for k in 0..<s {
                    let x = Int(placement.physicalToLogical[base + k])
                    // A deployed device may hold the expert twice (see ``deployedViolations``):
                    // staying in either of its slots keeps the rule.
                    let old = slotOf[x]
                    if old >= 0 && Int(current.physicalToLogical[base + k]) != x {
                        out.append(Violation(rule: .keepsSlotOnDevice, layer: l, device: dev, expert: x,
                                             message: "stays on the device but moves from local slot \(old) to \(k)"))
                        if out.count >= limit { break layerLoop }
                    }
                }
                for k in 0..<s {
                    let x = Int(current.physicalToLogical[base + k])
                    if x >= 0 && x < current.experts { slotOf[x] = -1 }
                }
            }
        }
        return out
    }

    /// Whether the placement keeps every rule.
    public static func isValid(_ placement: Placement) -> Bool {
        violations(of: placement, limit: 1).isEmpty
    }

    /// The rules a *deployed* placement must keep to be scored and rebalanced from: every rule of
    /// ``violations(of:topology:experts:layers:limit:)`` except
    /// ``Violation/Rule/noDuplicateOnDevice``. DeepSeek EPLB's packing, and the vLLM and SGLang
    /// policies built on it, can put two replicas of one expert on a device, and their workers
    /// serve such maps; vllm-ascend's worker refuses them. Every plan this library makes keeps all
    /// the rules (a layer left alone keeps its deployed row as it is).
    ///
    /// - Complexity: O(L·(P + E)).
    public static func deployedViolations(of placement: Placement, limit: Int = 1_000) -> [Violation] {
        Array(violations(of: placement, limit: Int.max).lazy.filter { $0.rule != .noDuplicateOnDevice }.prefix(limit))
    }

    /// Whether a device of the row (`D·S` ids, device-major) holds an expert twice. O(P·S).
    public static func hasDuplicateOnDevice(_ row: some Collection<Int32>, slotsPerDevice s: Int) -> Bool {
        let ids = Array(row)
        for start in stride(from: 0, to: ids.count, by: s) {
            for k in start ..< start + s where ids[start ..< k].contains(ids[k]) { return true }
        }
        return false
    }
}

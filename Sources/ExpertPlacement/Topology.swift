/// The hardware an expert-parallel MoE layer is served on.
///
/// `devices` expert-parallel ranks (GPUs/NPUs), each with `slotsPerDevice` expert slots, so
/// `P = devices × slotsPerDevice` physical slots. Slot `p` sits on device `p / slotsPerDevice`
/// (local slot `p % slotsPerDevice`). Devices are grouped into `nodes` equal nodes (device `d` on
/// node `d / (devices / nodes)`) and the `E` logical experts into `expertGroups` equal groups
/// (expert `e` in group `e / (E / expertGroups)`); both only matter to hierarchical placement.
///
/// Invariants checked by ``validate(experts:)``: all counts ≥ 1, `devices` divisible by `nodes`,
/// `E` divisible by `expertGroups`, `P ≥ E` (every expert needs a slot) and `slotsPerDevice ≤ E`
/// (a device cannot hold two replicas of one expert, so it needs `slotsPerDevice` distinct experts),
/// and `P` within ``Limits/maximumSlots``.
public struct Topology: Sendable, Hashable, Codable {
    /// Number of devices (EP ranks), `D`.
    public var devices: Int
    /// Expert slots per device, `S`.
    public var slotsPerDevice: Int
    /// Number of nodes, `N` (1 when unknown).
    public var nodes: Int
    /// Number of expert groups, `G` (1 when the model has none).
    public var expertGroups: Int

    /// Creates a topology. Call ``validate(experts:)`` before solving with it.
    public init(devices: Int, slotsPerDevice: Int, nodes: Int = 1, expertGroups: Int = 1) {
        self.devices = devices
        self.slotsPerDevice = slotsPerDevice
        self.nodes = nodes
        self.expertGroups = expertGroups
    }

    /// Total physical slots, `P = D·S`.
    @inlinable public var slotCount: Int { devices * slotsPerDevice }

    /// Devices per node, `D / N`.
    @inlinable public var devicesPerNode: Int { devices / nodes }

    /// The device that holds physical slot `slot`.
    @inlinable public func device(ofSlot slot: Int) -> Int { slot / slotsPerDevice }

    /// The node that holds `device`.
    @inlinable public func node(ofDevice device: Int) -> Int { device / devicesPerNode }

    /// The invariants that do not depend on the experts: every count at least 1, `devices`
    /// divisible by `nodes` (what a placement file's topology is checked for).
    ///
    /// - Throws: ``ExpertPlacementError`` naming the `topology.*` field at fault.
    public func validateCounts() throws(ExpertPlacementError) {
        for (name, value) in [("devices", devices), ("slotsPerDevice", slotsPerDevice),
                              ("nodes", nodes), ("expertGroups", expertGroups)] where value < 1 {
            throw .invalidValue(field: "topology.\(name)", reason: "must be at least 1, got \(value)")
        }
        guard devices % nodes == 0 else {
            throw .invalidValue(field: "topology.nodes",
                                reason: "devices (\(devices)) is not divisible by nodes (\(nodes))")
        }
    }

    /// Checks the invariants listed on the type for a model with `experts` logical experts.
    ///
    /// - Throws: ``ExpertPlacementError`` naming the `topology.*` field at fault.
    public func validate(experts: Int) throws(ExpertPlacementError) {
        try validateCounts()
        guard experts >= 1 else {
            throw .invalidValue(field: "load", reason: "holds no experts (the innermost arrays are empty)")
        }
        guard experts % expertGroups == 0 else {
            throw .invalidValue(field: "topology.expertGroups",
                                reason: "experts (\(experts)) is not divisible by expertGroups (\(expertGroups))")
        }
        let product = try Limits.slotCount(devices: devices, slotsPerDevice: slotsPerDevice)
        guard product >= experts else {
            throw .invalidValue(field: "topology",
                                reason: "fewer slots (\(devices) devices × \(slotsPerDevice) slots = \(product)) than experts (\(experts)): every expert needs at least one slot")
        }
        guard slotsPerDevice <= experts else {
            throw .invalidValue(field: "topology.slotsPerDevice",
                                reason: "\(slotsPerDevice) slots per device but only \(experts) experts: a device cannot hold two replicas of one expert")
        }
    }
}

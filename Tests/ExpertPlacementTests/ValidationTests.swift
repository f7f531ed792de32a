import ExpertPlacement
import ExpertPlacementTestSupport
import Testing

@Suite("Validation rules")
struct ValidationTests {
    let topology = Topology(devices: 3, slotsPerDevice: 2)

    @Test("a valid placement has no violation")
    func valid() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, 0, 1], [3, 2, 1, 0, 2, 3]])
        #expect(Validation.violations(of: plan).isEmpty)
        #expect(Validation.violations(of: plan, topology: topology, experts: 4, layers: 2).isEmpty)
    }

    @Test("two replicas of one expert on a device are named with layer, device and expert")
    func duplicate() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, 0, 1], [3, 2, 1, 0, 2, 2]])
        let v = Validation.violations(of: plan)
        #expect(v == [Violation(rule: .noDuplicateOnDevice, layer: 1, device: 2, expert: 2,
                                message: "two replicas on one device (second in slot 5)")])
        #expect(v[0].description == "layer 1, device 2, expert 2: two replicas on one device (second in slot 5)")
    }

    @Test("more than two replicas of one expert on a device: each extra one is counted, and an expert back on a device after another is not")
    func manyOnOneDevice() throws {
        // Device 0 holds expert 0 four times; device 1 holds 1, 2, 0, 3 (expert 0 once there).
        let plan = try Placement(topology: Topology(devices: 2, slotsPerDevice: 4), experts: 4,
                                 layers: [[0, 0, 0, 0, 1, 2, 0, 3]])
        #expect(Validation.violations(of: plan).map(\.message) == [
            "two replicas on one device (second in slot 1)",
            "3 replicas on one device (replica 3 in slot 2)",
            "4 replicas on one device (replica 4 in slot 3)",
        ])
    }

    @Test("a deployed plan may hold an expert twice on a device: deployedViolations leaves that rule out, a change keeps either slot")
    func deployedDuplicate() throws {
        let twice = try Placement(topology: topology, experts: 4, layers: [[0, 0, 1, 2, 3, 1]])
        #expect(Validation.violations(of: twice).map(\.rule) == [.noDuplicateOnDevice])
        #expect(Validation.deployedViolations(of: twice).isEmpty)
        #expect(Validation.hasDuplicateOnDevice(twice.physicalToLogical, slotsPerDevice: 2))
        #expect(!Validation.hasDuplicateOnDevice([0, 1, 2, 3, 0, 1] as [Int32], slotsPerDevice: 2))
        let lost = try Placement(topology: topology, experts: 4, layers: [[0, 0, 1, 2, 1, 2]])
        #expect(Validation.deployedViolations(of: lost).map(\.rule) == [.everyExpertPresent])
        // Expert 0 stays on device 0 in either of its two slots; moving to device 1's other slot breaks the rule.
        for row in [[0, 3, 1, 2, 0, 1], [3, 0, 1, 2, 0, 1]] {
            let change = try Placement(topology: topology, experts: 4, layers: [row])
            #expect(Validation.changeViolations(of: change, from: twice).isEmpty, "\(row)")
        }
        let moved = try Placement(topology: topology, experts: 4, layers: [[0, 3, 2, 1, 0, 1]])
        #expect(Validation.changeViolations(of: moved, from: twice).map(\.rule) == [.keepsSlotOnDevice, .keepsSlotOnDevice])
        // A layer left as deployed is no change; a changed layer with a duplicate breaks the rule.
        let valid = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 0, 1]])
        let twoLayers = try Placement(topology: topology, experts: 4, layers: [[0, 0, 1, 2, 3, 1], [0, 1, 2, 3, 0, 1]])
        #expect(Validation.changeViolations(of: twoLayers, from: twoLayers).isEmpty)
        #expect(Validation.changeViolations(of: twoLayers, from: valid).first?.rule == .noDuplicateOnDevice)
        // A shape mismatch names what the plan is checked against.
        #expect(Validation.changeViolations(of: twoLayers, from: twice).first?.message
                == "the placement has 2 layers but the deployed placement has 1")
        #expect(Validation.violations(of: twoLayers, layers: 1).first?.message == "the placement has 2 layers but the instance has 1")
    }

    @Test("a missing expert is named")
    func missing() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 0, 1, 2]])
        #expect(Validation.violations(of: plan).map(\.rule) == [.everyExpertPresent])
        #expect(Validation.violations(of: plan)[0].expert == 3)
    }

    @Test("ids out of range are named with their slot")
    func outOfRange() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, -1, 7]])
        let v = Validation.violations(of: plan)
        #expect(v.map(\.rule) == [.expertIdInRange, .expertIdInRange])
        #expect(v.map(\.device) == [2, 2])
        #expect(v.map(\.expert) == [-1, 7])
    }

    @Test("shape against an instance: devices, experts, layers")
    func shape() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, 0, 1]])
        #expect(Validation.violations(of: plan, topology: Topology(devices: 2, slotsPerDevice: 3)).map(\.rule) == [.shape])
        #expect(Validation.violations(of: plan, experts: 5).map(\.rule) == [.shape])
        #expect(Validation.violations(of: plan, layers: 2).map(\.rule) == [.shape])
    }

    @Test("the limit caps the report")
    func limit() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[9, 9, 9, 9, 9, 9]])
        #expect(Validation.violations(of: plan, limit: 3).count == 3)
        #expect(Validation.violations(of: plan).count == 6 + 4)
    }

    @Test("shape errors when building a placement")
    func placementShape() {
        #expect(throws: ExpertPlacementError.self) {
            try Placement(topology: topology, experts: 4, physicalToLogical: [0, 1, 2])
        }
        #expect(throws: ExpertPlacementError.shapeMismatch(field: "phy2log[1]", reason: "has 5 slots, expected 6")) {
            try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, 0, 1], [0, 1, 2, 3, 0]])
        }
    }

    @Test("derived tables: logcnt and −1-padded log2phy of width R + 1")
    func derivedTables() throws {
        let plan = try Placement(topology: topology, experts: 4, layers: [[0, 1, 2, 3, 0, 1]])
        #expect(plan.replicaCounts(layer: 0) == [2, 2, 1, 1])
        #expect(plan.logicalToPhysical(layer: 0) == [[0, 4, -1], [1, 5, -1], [2, -1, -1], [3, -1, -1]])
    }
}

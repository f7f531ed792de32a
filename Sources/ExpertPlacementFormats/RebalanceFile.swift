public import ExpertPlacement

/// A rebalance's output (INTERFACE.md §4, `eplb rebalance`): a placement file v1 for the whole
/// new placement, plus
/// - `transfers`: per layer, the list of `{"expert", "source", "destination", "slot"}` that turn
///   the deployed placement into the new one (empty for unchanged layers);
/// - `priority`: the changed layers in the order to apply them;
/// - `recordedImbalance`: per layer, the objective's value right after its last update (read back
///   by the next rebalance for the relative threshold);
/// - `plannedOn` (when a regime memory chose the plan): `window` or `memory`;
/// - `rebalance`: per layer `reason`, `moves`, `before` and `after` metrics on the window, the
///   busiest sender and receiver, and with a transfer model `bytes` and `seconds`; a `summary`.
///
/// `metrics` is the new placement's metrics block with `moves` against the deployed placement.
public enum RebalanceFile {
    /// The cost of moving weights: bytes per expert replica and link bandwidth (bytes/s).
    public struct TransferModel: Sendable, Equatable {
        /// Bytes of one expert's weights.
        public var expertBytes: Double
        /// Bytes per second a device sends (and receives) at once.
        public var bandwidth: Double

        /// Creates a model.
        public init(expertBytes: Double, bandwidth: Double) {
            self.expertBytes = expertBytes
            self.bandwidth = bandwidth
        }

        /// Seconds to move one layer: its busiest device's sends or receives, whichever is larger,
        /// each replica `expertBytes` at `bandwidth` (devices transfer in parallel, full duplex).
        public func seconds(maxSent: Int, maxReceived: Int) -> Double {
            Double(Swift.max(maxSent, maxReceived)) * expertBytes / bandwidth
        }
    }

    /// The output document.
    public static func encode(_ plan: RebalancePlan, metrics: PlacementMetrics, solver: PlacementFile.SolverInfo,
                              transferModel: TransferModel?) -> JSONValue {
        guard case .object(var root) = PlacementFile.encode(plan.placement, metrics: metrics, solver: solver) else {
            preconditionFailure("a placement file is an object")
        }
        let devices = plan.placement.topology.devices
        root["transfers"] = .array(plan.layers.map { change in
            .array(change.transfers.map { t in
                .object(JSONObject([("destination", .number(Double(t.destination))), ("expert", .number(Double(t.expert))),
                                    ("slot", .number(Double(t.slot))), ("source", .number(Double(t.source)))]))
            })
        })
        root["priority"] = .array(plan.priority.map { .number(Double($0)) })
        root["recordedImbalance"] = .array(plan.recordedImbalance.map { .number($0) })
        if let plannedOn = plan.plannedOn { root["plannedOn"] = .string(plannedOn.rawValue) }
        var totalBytes = 0.0, totalSeconds = 0.0
        let layers: [JSONValue] = plan.layers.map { change in
            var o = JSONObject()
            o["layer"] = .number(Double(change.layer))
            o["reason"] = .string(change.reason.rawValue)
            o["moves"] = .number(Double(change.moves))
            // The metrics on the window; the moves are the layer's `moves` above.
            var before = change.before, after = change.after
            before.moves = nil
            after.moves = nil
            o["before"] = PlacementFile.layerMetricsJSON(before)
            o["after"] = PlacementFile.layerMetricsJSON(after)
            if let v = change.candidateValue { o["candidateValue"] = .number(v) }
            let busiest = TransferPlan.busiest(change.transfers, devices: devices)
            o["maxSent"] = .number(Double(busiest.sent))
            o["maxReceived"] = .number(Double(busiest.received))
            if let model = transferModel {
                let bytes = Double(change.moves) * model.expertBytes
                let seconds = model.seconds(maxSent: busiest.sent, maxReceived: busiest.received)
                o["bytes"] = .number(bytes)
                o["seconds"] = .number(seconds)
                totalBytes += bytes
                totalSeconds += seconds
            }
            return .object(o)
        }
        var summary = JSONObject()
        let objective = plan.objective
        let before = plan.layers.map { $0.before.value(of: objective) }, after = plan.layers.map { $0.after.value(of: objective) }
        summary["objective"] = .string(objective.rawValue)
        summary["changedLayers"] = .number(Double(plan.priority.count))
        summary["moves"] = .number(Double(plan.totalMoves))
        summary["before"] = .number(before.reduce(0, +) / Double(Swift.max(1, before.count)))
        summary["after"] = .number(after.reduce(0, +) / Double(Swift.max(1, after.count)))
        if transferModel != nil {
            summary["bytes"] = .number(totalBytes)
            summary["seconds"] = .number(totalSeconds)
        }
        root["rebalance"] = .object(JSONObject([("layers", .array(layers)), ("summary", .object(summary))]))
        return .object(root)
    }
}

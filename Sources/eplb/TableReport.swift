import ExpertPlacement
import ExpertPlacementFormats
import Foundation

/// Human-readable summaries (`--format table`).
enum TableReport {
    static func solve(name: String, problem: Problem, report: SolveReport, metrics: PlacementMetrics) -> String {
        let t = problem.topology
        var out = "eplb solve: \(report.method) on \(TerminalText.sanitized(name))\n"
        out += "  \(problem.layers) layers × \(problem.episodes) episodes × \(problem.experts) experts; "
        out += "\(t.devices) devices × \(t.slotsPerDevice) slots (\(t.slotCount - problem.experts) redundant)"
        if report.method == HierarchicalSolver().method {
            out += ", \(t.nodes) node(s), \(t.expertGroups) group(s)\n"
        } else if t.nodes > 1 || t.expertGroups > 1 {
            out += "\n  note: \(t.nodes) node(s), \(t.expertGroups) group(s) are used by --method hierarchical only; \(report.method) places over all devices\n"
        } else {
            out += "\n"
        }
        out += "  status \(report.status.rawValue), objective \(report.objective.commandLineName), solved in \(format(seconds: report.wallTime))\n"
        for note in report.notes { out += "  note: \(note)\n" }
        if let sources = report.boundSources {
            let counts = BoundSource.allCases.compactMap { source -> String? in
                let n = sources.filter { $0 == source }.count
                return n == 0 ? nil : "\(source.rawValue) (\(n) layer\(n == 1 ? "" : "s"))"
            }
            out += "  lowerBound from: \(counts.joined(separator: ", ")) — see docs/FORMATS.md\n"
        }
        out += "\n" + metricsTable(metrics)
        return out
    }

    /// `eplb evaluate --format table`: the metrics (layers that cannot be scored shown as "-"),
    /// the objective's column marked with `*`, then the broken rules, if any.
    static func evaluation(title: String, problem: Problem, report: EvaluationReport, objective: Objective) -> String {
        var out = "eplb evaluate: \(TerminalText.sanitized(title))\n  \(problem.layers) layers × \(problem.episodes) episodes × \(problem.experts) experts\n\n"
        out += metricsTable(report.scored, rows: report.layers, marked: objective)
        if !report.violations.isEmpty {
            let shown = 20
            let unscored = report.layers.filter { $0 == nil }.count
            out += "broken rules: \(report.violations.count)"
            out += unscored > 0 ? " (\(unscored) layer(s) without metrics; the summary covers the others)\n" : "\n"
            for v in report.violations.prefix(shown) { out += "  [\(v.rule.rawValue)] \(v)\n" }
            if report.violations.count > shown { out += "  … and \(report.violations.count - shown) more (eplb validate lists them)\n" }
        }
        return out
    }

    /// Per-layer rows, then mean and max over layers. Imbalances are peak/average device load.
    ///
    /// - Parameters:
    ///   - metrics: the layers summarised in the mean and max rows.
    ///   - rows: the per-layer rows, `nil` for a layer without metrics (default: `metrics.layers`).
    ///   - marked: an objective whose column header gets a `*` and a footnote.
    static func metricsTable(_ metrics: PlacementMetrics, rows layerRows: [LayerMetrics?]? = nil,
                             marked: Objective? = nil) -> String {
        let layerRows = layerRows ?? metrics.layers.map { $0 }
        let hasBound = !metrics.layers.isEmpty && metrics.layers.allSatisfy { $0.lowerBound != nil }
        let hasMoves = metrics.totalMoves != nil && !metrics.layers.isEmpty
        var header = ["layer", "mean", "worst", "aggregate", "peakSum"]
        if let marked {
            let column: Int = switch marked {
            case .meanImbalance: 1
            case .worstImbalance: 2
            case .aggregateImbalance: 3
            case .peakSum: 4
            }
            header[column] += "*"
        }
        if hasBound { header += ["lowerBound", "gap"] }
        if hasMoves { header += ["moves"] }
        var rows: [[String]] = []
        func row(_ label: String, _ m: LayerMetrics?) -> [String] {
            guard let m else { return [label] + Array(repeating: "-", count: header.count - 1) }
            var r = [label, fixed(m.meanImbalance, 4), fixed(m.worstImbalance, 4), fixed(m.aggregateImbalance, 4),
                     fixed(m.peakSum, 1)]
            if hasBound { r += [m.lowerBound.map { fixed($0, 4) } ?? "-", m.gap.map { fixed($0 * 100, 2) + "%" } ?? "-"] }
            if hasMoves { r += [m.moves.map(String.init) ?? "-"] }
            return r
        }
        for (l, m) in layerRows.enumerated() { rows.append(row(String(l), m)) }
        if layerRows.count > 1 && !metrics.layers.isEmpty {
            for (label, pick) in [("mean", { (s: MetricSummary) in s.mean }), ("max", { (s: MetricSummary) in s.max })] {
                let m = LayerMetrics(
                    meanImbalance: pick(metrics.summary { $0.meanImbalance }!),
                    worstImbalance: pick(metrics.summary { $0.worstImbalance }!),
                    aggregateImbalance: pick(metrics.summary { $0.aggregateImbalance }!),
                    peakSum: pick(metrics.summary { $0.peakSum }!),
                    lowerBound: metrics.summary { $0.lowerBound }.map(pick),
                    gap: metrics.summary { $0.gap }.map(pick),
                    moves: label == "mean" ? nil : metrics.summary { $0.moves.map(Double.init) }.map { Int(pick($0)) })
                var r = row(label, m)
                if hasMoves && label == "mean" { r[r.count - 1] = metrics.totalMoves.map { "Σ \($0)" } ?? "-" }
                rows.append(r)
            }
        }
        var out = grid(header, rows, ruleBefore: rows.count > layerRows.count ? layerRows.count : nil)
        out += "(mean/worst/aggregate: peak ÷ average device load; peakSum: Σ over episodes of the peak device load)\n"
        if let marked { out += "(* the objective, \(marked.commandLineName))\n" }
        return out
    }

    static func rebalance(name: String, problem: Problem, plan: RebalancePlan,
                          transferModel: RebalanceFile.TransferModel?) -> String {
        let objective = plan.objective
        var out = "eplb rebalance: \(plan.method) on \(TerminalText.sanitized(name))\n"
        out += "  \(problem.layers) layers × \(problem.episodes) episodes (window) × \(problem.experts) experts; "
        out += "\(problem.topology.devices) devices × \(problem.topology.slotsPerDevice) slots\n"
        out += "  \(plan.priority.count) of \(problem.layers) layers changed, \(plan.totalMoves) moves, objective \(objective.commandLineName), in \(format(seconds: plan.wallTime))\n"
        for note in plan.notes { out += "  note: \(note)\n" }
        var header = ["layer", "before", "after", "gain", "moves", "maxSent", "decision"]
        if transferModel != nil { header.insert("seconds", at: 6) }
        var rows: [[String]] = []
        for change in plan.layers {
            let busiest = TransferPlan.busiest(change.transfers, devices: problem.topology.devices)
            let gain = change.gain(objective)
            var r = [String(change.layer), fixed(change.before.value(of: objective), 4), fixed(change.after.value(of: objective), 4),
                     fixed(gain / Swift.max(change.before.value(of: objective), 1e-300) * 100, 2) + "%", String(change.moves),
                     String(busiest.sent), change.reason.rawValue]
            if let model = transferModel {
                r.insert(fixed(model.seconds(maxSent: busiest.sent, maxReceived: busiest.received) * 1000, 2) + " ms", at: 6)
            }
            rows.append(r)
        }
        out += "\n" + grid(header, rows)
        if !plan.priority.isEmpty { out += "priority: " + plan.priority.map(String.init).joined(separator: ", ") + "\n" }
        return out
    }

    /// A right-aligned text table: the header, a rule, the rows (another rule before row
    /// `ruleBefore` when given), columns two spaces apart, each line ending in a newline.
    static func grid(_ header: [String], _ rows: [[String]], ruleBefore: Int? = nil) -> String {
        let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }
                .joined(separator: "  ") + "\n"
        }
        let rule = line(widths.map { String(repeating: "-", count: $0) })
        var out = line(header) + rule
        for (i, r) in rows.enumerated() {
            if i == ruleBefore { out += rule }
            out += line(r)
        }
        return out
    }

    /// `x` with `digits` decimals; a value that rounds to zero prints without a sign (not "-0.0").
    static func fixed(_ x: Double, _ digits: Int) -> String {
        let text = String(format: "%.\(digits)f", x)
        return text.hasPrefix("-") && text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) ? String(text.dropFirst()) : text
    }

    static func format(seconds d: Duration) -> String {
        let s = d.inSeconds
        return s < 1 ? String(format: "%.2f ms", s * 1000) : String(format: "%.2f s", s)
    }
}

import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import Foundation

/// `eplb shard-plan`: which data-parallel rank owns and broadcasts which shared-weight layer, the
/// memory each rank saves, and whether the broadcasts hide behind compute (``ShardPlanner``).
struct ShardPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shard-plan",
        abstract: "Distribute shared-weight layers over data-parallel ranks and schedule their broadcasts.",
        discussion: """
        Instead of every rank replicating N structurally identical layers of B bytes, each rank \
        owns some and broadcasts a layer's weights k layers before it is needed (--prefetch k). \
        Owners: counts as balanced as the memory caps allow (⌈N/D⌉ or ⌊N/D⌋ without caps), in an \
        order where a rank broadcasts two layers in a row only when the counts force it (forward \
        passes run back to back, so the last layer is followed by the first). Memory per device: \
        its owned layers plus the borrowed ones in use or in flight (at most k + 1 buffers), \
        against N·B for full replication. --memory-cap limits each device's bytes for these layers \
        (one value, or one per device, comma-separated); a device that cannot hold all N layers \
        keeps room for k + 1 buffers.

        With --bandwidth and --layer-time, the steady-state schedule: a broadcast occupies the \
        fabric for B/BW seconds and completes --latency seconds later; broadcasts run one at a \
        time; layer i's starts when layer i − k starts computing (for i < k, during the previous \
        pass). It hides when complete before layer i − 1 finishes: for every layer exactly when \
        B/BW ≤ τ and latency + B/BW ≤ k·τ. Otherwise every layer waits the same stall. \
        --prefetch auto picks the smallest k that hides them all within the caps (or the smallest \
        with the least stall, with a note saying why none hides them). Byte values take \
        suffixes: k M G T (powers of 1000) or Ki Mi Gi Ti (powers of 1024), with an optional B.

        Output: JSON (sorted keys) by default; a table with --format table (the default when \
        standard output is a terminal). Caps that cannot hold the layers: one error line, exit 2.

        Examples:
          eplb shard-plan --layers 61 --devices 16 --layer-bytes 96MiB
          eplb shard-plan --layers 61 --devices 16 --layer-bytes 96MiB \\
              --bandwidth 50GB/s --layer-time 0.0015 --latency 0.002 --prefetch auto
          eplb shard-plan --layers 8 --devices 3 --layer-bytes 1GiB \\
              --memory-cap 8GiB,4GiB,4GiB --format table
        """
    )

    @Option(parsing: .unconditional, help: ArgumentHelp("Shared layers per forward pass, N ≥ 2.", valueName: "N"))
    var layers: Int

    @Option(parsing: .unconditional, help: ArgumentHelp("Data-parallel ranks sharing them, D.", valueName: "D"))
    var devices: Int

    @Option(name: .customLong("layer-bytes"), parsing: .unconditional,
            help: ArgumentHelp("Bytes of one layer's weights, B (e.g. 96MiB).", valueName: "B"), transform: ByteCount.init(parsing:))
    var layerBytes: ByteCount

    @Option(parsing: .unconditional, help: ArgumentHelp("Layers broadcast ahead, k in 1...N − 1, or auto (needs --bandwidth and --layer-time).",
                               valueName: "k|auto"))
    var prefetch: PrefetchArgument = .depth(1)

    @Option(name: .customLong("memory-cap"), parsing: .unconditional, help: ArgumentHelp(
        "Bytes each device can give to these layers (owned plus buffers): one value, or one per device comma-separated.",
        valueName: "bytes[,bytes…]"), transform: ByteList.init(parsing:))
    var memoryCap: ByteList?

    @Option(parsing: .unconditional, help: ArgumentHelp("Bytes per second one broadcast of a layer achieves (e.g. 50GB/s).", valueName: "BW"),
            transform: ByteRate.init(parsing:))
    var bandwidth: ByteRate?

    @Option(name: .customLong("layer-time"), parsing: .unconditional, help: ArgumentHelp("Seconds of compute per layer, τ (1e-100 to 1e100).", valueName: "τ"))
    var layerTime: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds from a broadcast's last byte leaving the fabric to its completion, α (0, or 1e-100 to 1e100; default 0).",
                               valueName: "α"))
    var latency: Double?

    @Option(help: ArgumentHelp("Write the result to FILE instead of standard output (atomically).", valueName: "file"))
    var output: String?

    @Option(help: "Output format: json or table. Default: table on a terminal, json otherwise.")
    var format: OutputFormat?

    /// Most layers or devices a command prints (the library's limit is ``ShardPlanner/maximumCount``).
    static let maximumCount = 100_000

    func validate() throws {
        if layers < 2 { throw ValidationError("--layers must be at least 2 (a layer cannot be prefetched ahead of itself), got \(layers)") }
        if devices < 1 { throw ValidationError("--devices must be at least 1, got \(devices)") }
        // The output lists every layer and device (about 1 KB of JSON each): far beyond any model,
        // a count the library accepts would exhaust memory here.
        for (flag, value) in [("--layers", layers), ("--devices", devices)] where value > Self.maximumCount {
            throw ValidationError("\(flag) must be at most \(Self.maximumCount) (the output lists every one), got \(value)")
        }
        if layerBytes.bytes < 1 { throw ValidationError("--layer-bytes must be at least 1 byte, got \(layerBytes.bytes)") }
        if case .depth(let k) = prefetch, !(1...max(1, layers - 1)).contains(k) {
            throw ValidationError("--prefetch must be auto or in 1...\(layers - 1) (layers − 1), got \(k)")
        }
        if let memoryCap, memoryCap.values.count != 1 && memoryCap.values.count != devices {
            throw ValidationError("--memory-cap takes one value or one per device (\(devices)), got \(memoryCap.values.count)")
        }
        if (bandwidth == nil) != (layerTime == nil) {
            throw ValidationError("--bandwidth and --layer-time go together (the schedule needs both)")
        }
        if bandwidth == nil && (latency != nil || prefetch == .automatic) {
            throw ValidationError("\(latency != nil ? "--latency" : "--prefetch auto") needs --bandwidth and --layer-time")
        }
        if let bandwidth, bandwidth.bytesPerSecond < 1 { throw ValidationError("--bandwidth must be at least 1 byte per second") }
        if let layerTime, !(layerTime > 0 && layerTime.isFinite) {
            throw ValidationError("--layer-time must be a positive number of seconds, got \(layerTime)")
        }
        if let latency, !(latency >= 0 && latency.isFinite) {
            throw ValidationError("--latency must be a finite number of seconds ≥ 0, got \(latency)")
        }
        // The schedule's own range (1e-100 to 1e100): a usage error, as the checks above.
        if let bandwidth, let layerTime {
            do throws(ExpertPlacementError) {
                _ = try BroadcastTiming(bandwidth: Double(bandwidth.bytesPerSecond), layerSeconds: layerTime,
                                        latencySeconds: latency ?? 0)
            } catch {
                throw ValidationError("\(Self.flag(for: error.field)) \(error.reason)")
            }
        }
    }

    func run() throws {
        do {
            let timing = try bandwidth.map { bw throws(ExpertPlacementError) in
                try BroadcastTiming(bandwidth: Double(bw.bytesPerSecond), layerSeconds: layerTime!, latencySeconds: latency ?? 0)
            }
            let caps = memoryCap.map { $0.values.count == 1 ? Array(repeating: $0.values[0], count: devices) : $0.values }
            let planner = try ShardPlanner(layers: layers, devices: devices, layerBytes: layerBytes.bytes, memoryCaps: caps,
                                           timing: timing)
            let plan: ShardPlan
            switch prefetch {
            case .automatic: plan = try planner.planAutomaticPrefetch()
            case .depth(let k): plan = try planner.plan(prefetch: k)
            }
            try reportingInputErrors {
                switch format ?? (output == nil && isatty(STDOUT_FILENO) == 1 ? .table : .json) {
                case .json: try OutputSink.write(JSONWriter.string(json(plan)), to: output ?? "-")
                case .table: try OutputSink.write(table(plan), to: output ?? "-")
                }
            }
        } catch let error as ExpertPlacementError {
            // The flags are the input: name the flag the field came from.
            printError("\(Self.flag(for: error.field)): \(error.reason)")
            throw ExitCode(2)
        }
    }

    /// The command-line flag of a ``ShardPlanner`` field (`memoryCaps[3]` → `--memory-cap (device 3)`).
    static func flag(for field: String?) -> String {
        guard let field else { return "shard-plan" }
        if field.hasPrefix("memoryCaps[") {
            return "--memory-cap (device \(field.dropFirst("memoryCaps[".count).dropLast()))"
        }
        let flags = ["layers": "--layers", "devices": "--devices", "layerBytes": "--layer-bytes", "memoryCaps": "--memory-cap",
                     "prefetch": "--prefetch", "bandwidth": "--bandwidth", "layerSeconds": "--layer-time",
                     "latencySeconds": "--latency"]
        return flags[field] ?? field
    }

    // MARK: JSON

    func json(_ plan: ShardPlan) -> JSONValue {
        func n(_ x: Int) -> JSONValue { .number(Double(x)) }
        let replicated = plan.replicatedBytes
        var settings: JSONObject = ["layers": n(layers), "devices": n(devices), "layerBytes": n(layerBytes.bytes),
                                    "prefetch": n(plan.prefetch), "prefetchAuto": .bool(prefetch == .automatic)]
        if let caps = plan.memoryCaps { settings["memoryCaps"] = .array(caps.map(n)) }
        let deviceBytes = plan.deviceBytes
        let devicesJSON: [JSONValue] = plan.ownedCounts.indices.map { d in
            .object(["device": n(d), "ownedLayers": n(plan.ownedCounts[d]), "bufferLayers": n(plan.bufferLayers[d]),
                     "ownedBytes": n(plan.ownedCounts[d] * plan.layerBytes),
                     "bufferBytes": n(plan.bufferLayers[d] * plan.layerBytes),
                     "bytes": n(deviceBytes[d]), "savedBytes": n(replicated - deviceBytes[d])])
        }
        let schedule = plan.schedule
        let layersJSON: [JSONValue] = plan.owners.indices.map { i in
            var o: JSONObject = ["layer": n(i), "owner": n(plan.owners[i]), "issueLayer": n(plan.issueLayer(of: i)),
                                 "previousPass": .bool(i < plan.prefetch)]
            if let s = schedule {
                o["start"] = .number(s.start(of: i))
                o["finish"] = .number(s.finish(of: i))
                o["neededAt"] = .number(s.neededAt(i))
                o["slack"] = .number(s.slackSeconds)
                o["hidden"] = .bool(s.allHidden)
            }
            return .object(o)
        }
        var root: JSONObject = [
            "settings": .object(settings),
            "owners": .array(plan.owners.map(n)),
            "devices": .array(devicesJSON),
            "layers": .array(layersJSON),
            "balance": .object(["maxOwned": n(plan.maximumOwned), "minOwned": n(plan.minimumOwned),
                                "leastMaxOwned": n(plan.leastMaximumOwned), "repeatedOwners": n(plan.repeatedOwners),
                                "leastRepeatedOwners": n(plan.leastRepeatedOwners)]),
            "memory": .object(["replicatedBytes": n(replicated), "maxDeviceBytes": n(plan.maximumDeviceBytes),
                               "maxBufferBytes": n(plan.maximumBufferBytes),
                               "savedBytes": n(replicated - plan.maximumDeviceBytes),
                               "savedFraction": .number(1 - Double(plan.maximumDeviceBytes) / Double(replicated))]),
            "notes": .array(plan.notes.map(JSONValue.string)),
        ]
        if let s = schedule {
            settings["bandwidth"] = .number(s.timing.bandwidth)
            settings["layerTime"] = .number(s.timing.layerSeconds)
            settings["latency"] = .number(s.timing.latencySeconds)
            root["settings"] = .object(settings)
            root["schedule"] = .object([
                "allHidden": .bool(s.allHidden), "bound": .string(s.bound.rawValue),
                "transferSeconds": .number(s.transferSeconds), "broadcastSeconds": .number(s.broadcastSeconds),
                "periodSeconds": .number(s.periodSeconds), "passSeconds": .number(s.passSeconds),
                "computeSeconds": .number(s.computeSeconds), "stallSeconds": .number(s.stallSeconds),
                "slackSeconds": .number(s.slackSeconds), "coldPassSeconds": .number(s.coldPassSeconds),
            ])
        }
        return .object(root)
    }

    // MARK: Table

    func table(_ plan: ShardPlan) -> String {
        let b = plan.layerBytes
        var out = "eplb shard-plan: \(plan.layers) layers × \(plan.devices) devices, \(Self.bytes(b)) per layer, prefetch \(plan.prefetch)\n"
        let counts = plan.minimumOwned == plan.maximumOwned ? "\(plan.maximumOwned)" : "\(plan.minimumOwned)–\(plan.maximumOwned)"
        out += "  owners: \(counts) layers per device (least possible largest count: \(plan.leastMaximumOwned)); "
        out += plan.repeatedOwners == 0 ? "no rank broadcasts two layers in a row\n"
            : "\(plan.repeatedOwners) layer(s) followed by one of the same owner (the least these counts allow)\n"
        out += "  memory: at most \(Self.bytes(plan.maximumDeviceBytes)) per device, prefetch buffers at most "
        out += "\(Self.bytes(plan.maximumBufferBytes)), vs \(Self.bytes(plan.replicatedBytes)) replicated: "
        out += TableReport.fixed((1 - Double(plan.maximumDeviceBytes) / Double(plan.replicatedBytes)) * 100, 1) + "% saved\n"
        for note in plan.notes { out += "  note: \(note)\n" }
        // Devices with equal rows share one row ("0–12").
        var rows: [[String]] = []
        var d = 0
        while d < plan.devices {
            var e = d
            while e + 1 < plan.devices && plan.ownedCounts[e + 1] == plan.ownedCounts[d]
                    && plan.bufferLayers[e + 1] == plan.bufferLayers[d] { e += 1 }
            let total = (plan.ownedCounts[d] + plan.bufferLayers[d]) * b
            rows.append([d == e ? "\(d)" : "\(d)–\(e)", "\(plan.ownedCounts[d])", "\(plan.bufferLayers[d])",
                         Self.bytes(total), Self.bytes(plan.replicatedBytes - total)])
            d = e + 1
        }
        out += "\n" + TableReport.grid(["device", "owned", "buffers", "bytes", "saved"], rows)
        var header = ["layer", "owner", "issued at"]
        if plan.schedule != nil { header += ["start ms", "finish ms", "needed ms", "slack ms"] }
        let shown = plan.layers <= 20 ? Array(0..<plan.layers) : Array(0..<10) + Array(plan.layers - 3..<plan.layers)
        let layerRows: [[String]] = shown.map { i in
            var r = ["\(i)", "\(plan.owners[i])", "\(plan.issueLayer(of: i))\(i < plan.prefetch ? " (prev.)" : "")"]
            if let s = plan.schedule {
                r += [s.start(of: i), s.finish(of: i), s.neededAt(i), s.slackSeconds].map { TableReport.fixed($0 * 1000, 3) }
            }
            return r
        }
        out += "\n" + TableReport.grid(header, layerRows, ruleBefore: shown.count < plan.layers ? 10 : nil)
        if shown.count < plan.layers { out += "(layers 10–\(plan.layers - 4) not shown; the JSON lists every layer)\n" }
        if let s = plan.schedule {
            func ms(_ x: Double) -> String { TableReport.fixed(x * 1000, 3) + " ms" }
            out += "schedule: broadcast \(ms(s.broadcastSeconds)) (fabric \(ms(s.transferSeconds))), layer \(ms(s.timing.layerSeconds)), "
            out += "period \(ms(s.periodSeconds)) (\(s.bound.rawValue)-bound); "
            out += s.allHidden ? "every broadcast hidden\n" : "every layer waits \(ms(s.periodSeconds - s.timing.layerSeconds))\n"
            out += "  pass \(ms(s.passSeconds)) = compute \(ms(s.computeSeconds)) + stall \(ms(s.stallSeconds)); "
            out += "cold pass (nothing prefetched) \(ms(s.coldPassSeconds))\n"
        }
        return out
    }

    /// `123 B`, `96.0 MiB`, `1.50 GiB`: binary units, three significant digits.
    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var x = Double(n), u = 0
        while x >= 1024 && u < units.count - 1 {
            x /= 1024
            u += 1
        }
        if u == 0 { return "\(n) B" }
        return TableReport.fixed(x, x < 10 ? 2 : x < 100 ? 1 : 0) + " " + units[u]
    }
}

/// `--prefetch k|auto`.
enum PrefetchArgument: ExpressibleByArgument, Equatable {
    case depth(Int)
    case automatic

    init?(argument: String) {
        if argument == "auto" {
            self = .automatic
        } else if let k = Int(argument) {
            self = .depth(k)
        } else {
            return nil
        }
    }

    var defaultValueDescription: String {
        switch self {
        case .automatic: "auto"
        case .depth(let k): "\(k)"
        }
    }
}

/// A whole number of bytes from the command line: `512`, `1.5e9`, `96MiB`, `80GB`, `67.1GB`, `2Ki`.
///
/// Suffixes: `k`/`K`, `M`, `G`, `T`, `P` (powers of 1000) or with `i` (powers of 1024), then an
/// optional `B`. The number is read as the decimal it is written as, in exact integer arithmetic
/// (`67.1GB` is 67,100,000,000 bytes; floating point would make it 67,099,999,999.99999 and refuse
/// it), and must come to a whole number of bytes from 0 to 2^53.
struct ByteCount: Equatable {
    var bytes: Int

    /// Why a byte value cannot be read.
    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads `text`; the error says why not.
    init(parsing text: String) throws(ParseError) {
        bytes = try Self.parse(text)
    }

    static func parse(_ text: String) throws(ParseError) -> Int {
        var s = Substring(text)
        if s.hasSuffix("B") { s = s.dropLast() }
        var decimalExponent = 0, binaryExponent = 0
        let prefixes: [Character: Int] = ["k": 1, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5]
        if s.hasSuffix("i"), s.count >= 2, let p = prefixes[s[s.index(s.endIndex, offsetBy: -2)]] {
            binaryExponent = 10 * p
            s = s.dropLast(2)
        } else if let last = s.last, let p = prefixes[last] {
            decimalExponent = 3 * p
            s = s.dropLast()
        }
        // digits[.digits][e[+-]digits]
        let parts = s.split(separator: "e", maxSplits: 1, omittingEmptySubsequences: false)
        let number = parts[0].split(separator: "E", maxSplits: 1, omittingEmptySubsequences: false)
        let mantissaText = number[0]
        let exponentText = parts.count > 1 ? parts[1] : number.count > 1 ? number[1] : nil
        if mantissaText.hasPrefix("-") {
            throw ParseError(description: "a byte count cannot be negative")
        }
        let pieces = mantissaText.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = pieces[0], fraction = pieces.count > 1 ? pieces[1] : ""
        let digits = whole + fraction
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ParseError(description: "expected a number of bytes, optionally with a suffix: 512, 1.5e9, 96MiB, 80GB")
        }
        if let exponentText {
            guard let e = Int(exponentText), abs(e) < 1_000 else {
                throw ParseError(description: "'\(exponentText)' is not an exponent")
            }
            decimalExponent += e
        }
        decimalExponent -= fraction.count
        // The significant digits as an integer (trailing zeros moved into the exponent).
        var significant = Substring(digits.drop { $0 == "0" })
        while significant.last == "0" {
            significant = significant.dropLast()
            decimalExponent += 1
        }
        if significant.isEmpty { return 0 }
        let tooLarge = ParseError(description: "more than 2^53 bytes")
        guard significant.count <= 18, var value = Int(significant) else {
            throw decimalExponent >= 0 ? tooLarge : ParseError(description: "too many significant digits to be exact")
        }
        func multiply(_ factor: Int) throws(ParseError) {
            let (product, overflow) = value.multipliedReportingOverflow(by: factor)
            guard !overflow, product <= 1 << 53 else { throw tooLarge }
            value = product
        }
        func divide(_ divisor: Int) throws(ParseError) {
            guard value % divisor == 0 else {
                throw ParseError(description: "'\(text)' is not a whole number of bytes")
            }
            value /= divisor
        }
        // value × 10^d × 2^b, exactly: 10^d = 2^d·5^d.
        var twos = binaryExponent + decimalExponent, fives = decimalExponent
        while fives < 0 { try divide(5); fives += 1 }
        while twos < 0 { try divide(2); twos += 1 }
        while fives > 0 { try multiply(5); fives -= 1 }
        while twos > 0 { try multiply(2); twos -= 1 }
        guard value <= 1 << 53 else { throw tooLarge }
        return value
    }
}

/// `--bandwidth 50GB/s`: a ``ByteCount`` per second (the `/s` is optional).
struct ByteRate: Equatable {
    var bytesPerSecond: Int

    init(parsing argument: String) throws(ByteCount.ParseError) {
        bytesPerSecond = try ByteCount.parse(argument.hasSuffix("/s") ? String(argument.dropLast(2)) : argument)
    }
}

/// `--memory-cap 8GiB` or `--memory-cap 8GiB,4GiB,4GiB`.
struct ByteList: Equatable {
    var values: [Int]

    init(parsing argument: String) throws(ByteCount.ParseError) {
        var values: [Int] = []
        for (i, part) in argument.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            do throws(ByteCount.ParseError) {
                values.append(try ByteCount.parse(part.trimmingCharacters(in: .whitespaces)))
            } catch {
                throw ByteCount.ParseError(description: "value \(i + 1) ('\(part)'): \(error.description)")
            }
        }
        self.values = values
    }
}

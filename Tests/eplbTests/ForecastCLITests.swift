import Foundation
import Testing

/// `eplb forecast` and `eplb backtest`.
@Suite("eplb forecast and backtest")
struct ForecastCLITests {
    /// A 2-layer, 12-episode, 4-expert history: experts 0 and 1 trade load linearly.
    static func history(topology: Bool) throws -> String {
        var layers: [String] = []
        for l in 0..<2 {
            var episodes: [String] = []
            for t in 0..<12 {
                let loads = [10 + t, 22 - t, 5 + l, 7]
                episodes.append("[" + loads.map(String.init).joined(separator: ",") + "]")
            }
            layers.append("[" + episodes.joined(separator: ",") + "]")
        }
        let topo = topology ? #""topology": {"devices": 2, "slotsPerDevice": 3}, "# : ""
        return try temporaryFile(topology ? "history-topo.json" : "history.json",
                                 "{\"schemaVersion\": 1, \(topo)\"load\": [" + layers.joined(separator: ",") + "]}")
    }

    @Test("forecast --model trend: an instance [L][H][E] continuing the lines, diagnostics in \"forecast\", topology kept")
    func forecastTrend() throws {
        let r = try CLI.run(["forecast", try Self.history(topology: true), "--horizon", "3", "--model", "trend"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let load = json["load"] as! [[[Double]]]
        #expect(load.count == 2 && load[0].count == 3 && load[0][0].count == 4)
        #expect(abs(load[0][0][0] - 22) < 1e-6 && abs(load[1][2][1] - 8) < 1e-6)  // t = 12 and t = 14
        let forecast = json["forecast"] as! [String: Any]
        #expect(forecast["model"] as? String == "trend")
        #expect((forecast["layers"] as! [[String: Any]]).count == 2)
        #expect((json["topology"] as! [String: Any])["devices"] as? Int == 2)
        // The output is an instance eplb reads back.
        let path = try temporaryFile("forecast-out.json", r.stdout)
        let solved = try CLI.run(["solve", path, "--method", "greedy", "--format", "json"])
        #expect(solved.status == 0, "\(solved.stderr)")
    }

    @Test("forecast of a history without topology writes an instance without one")
    func forecastNoTopology() throws {
        let r = try CLI.run(["forecast", try Self.history(topology: false), "--horizon", "1", "--model", "ar", "--window", "6"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\"topology\""))
        #expect(r.stdout.contains("\"historyEpisodes\": 6"))
    }

    @Test("forecast keeps the history's layerIds (with and without a topology), so a plan on it exports for the right layers")
    func forecastKeepsLayerIds() throws {
        for topology in [true, false] {
            let text = try String(contentsOfFile: try Self.history(topology: topology), encoding: .utf8)
            let path = try temporaryFile("history-ids-\(topology).json",
                                         text.replacingOccurrences(of: "\"load\"", with: "\"layerIds\": [3, 7], \"load\""))
            let r = try CLI.run(["forecast", path, "--horizon", "2", "--model", "mean"])
            #expect(r.status == 0, "\(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            #expect(json["layerIds"] as? [Int] == [3, 7], "topology: \(topology)")
        }
    }

    @Test("episodeWeights in the history: forecast and backtest say they are ignored (and not without them)")
    func episodeWeightsIgnored() throws {
        let text = try String(contentsOfFile: try Self.history(topology: true), encoding: .utf8)
        let weights = "[" + (0..<12).map { $0 % 2 == 0 ? "1" : "3" }.joined(separator: ", ") + "]"
        let weighted = try temporaryFile("history-weighted.json",
                                         text.replacingOccurrences(of: "\"load\"", with: "\"episodeWeights\": \(weights), \"load\""))
        let forecast = try CLI.run(["forecast", weighted, "--horizon", "2", "--model", "mean"])
        #expect(forecast.status == 0 && forecast.stderr.hasPrefix("eplb: warning: \(weighted): episodeWeights: ignored"),
                "\(forecast.stderr)")
        let backtest = try CLI.run(["backtest", weighted, "--window", "4", "--horizon", "2", "--strategy", "last", "--omit-timing"])
        #expect(backtest.status == 0 && backtest.stderr.hasPrefix("eplb: warning: \(weighted): episodeWeights: ignored"),
                "\(backtest.stderr)")
        // A history without a topology is checked the same way.
        let bare = try String(contentsOfFile: try Self.history(topology: false), encoding: .utf8)
        let weightedBare = try temporaryFile("history-weighted-bare.json",
                                             bare.replacingOccurrences(of: "\"load\"", with: "\"episodeWeights\": \(weights), \"load\""))
        let forecastBare = try CLI.run(["forecast", weightedBare, "--horizon", "2", "--model", "mean"])
        #expect(forecastBare.status == 0 && forecastBare.stderr.contains("episodeWeights: ignored"), "\(forecastBare.stderr)")
        #expect(!forecastBare.stdout.contains("\"topology\""))
        let forecastPlain = try CLI.run(["forecast", try Self.history(topology: false), "--horizon", "2", "--model", "mean"])
        #expect(forecastPlain.status == 0 && forecastPlain.stderr.isEmpty, "\(forecastPlain.stderr)")
        #expect(forecastPlain.stdout == forecastBare.stdout.replacingOccurrences(of: "history-weighted-bare", with: "history"))
        let plain = try CLI.run(["backtest", try Self.history(topology: true), "--window", "4", "--horizon", "2",
                                 "--strategy", "last", "--omit-timing"])
        #expect(plain.status == 0 && plain.stderr.isEmpty, "\(plain.stderr)")
        // The weights change nothing but the warning.
        #expect(backtest.stdout.replacingOccurrences(of: "history-weighted", with: "history-topo") == plain.stdout)
    }

    @Test("forecast of a bad file: exit 2, one line naming the file and the field, no stdout, no output file")
    func forecastBadInput() throws {
        let bad = try temporaryFile("bad-history.json", #"{"load": [[[1, 2], [3, -4]]]}"#)
        let out = TestScratch.root.appendingPathComponent("eplb-forecast-never-\(getpid()).json").path
        let r = try CLI.run(["forecast", bad, "--horizon", "2", "--output", out])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("eplb: error: \(bad): load[0][1][1]: "), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out))
        // A window the history does not hold, and an autoregression with no data rows to fit.
        let history = try Self.history(topology: false)
        let long = try CLI.run(["forecast", history, "--horizon", "2", "--window", "13", "--output", out])
        #expect(long.status == 2 && long.stderr == "eplb: error: \(history): --window: 13 episodes asked for, the history holds 12\n", "\(long.stderr)")
        let order = try CLI.run(["forecast", history, "--horizon", "2", "--window", "3", "--model", "ar", "--order", "3", "--output", out])
        #expect(order.status == 2 && order.stderr.contains("--order: an autoregression of order 3 needs more than 3 episodes"), "\(order.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        // Planned loads out of range are refused, naming the flag: a K for which μ + K·σ overflows.
        let topo = try Self.history(topology: true)
        let huge = try CLI.run(["backtest", topo, "--window", "4", "--horizon", "2", "--strategy", "hedged", "--hedge-k", "1e308"])
        #expect(huge.status == 2 && huge.stderr.hasPrefix("eplb: error: \(topo): --hedge-k: 1e+308 makes layer 0 expert"), "\(huge.stderr)")
    }

    @Test("forecast usage errors exit 64")
    func forecastUsage() throws {
        let path = try Self.history(topology: false)
        for args in [["--horizon", "0"], ["--horizon", "2", "--model", "nope"], ["--horizon", "2", "--smoothing", "0"],
                     ["--horizon", "2", "--order", "0"], ["--horizon", "2", "--ridge", "-1"]] {
            let r = try CLI.run(["forecast", path] + args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
    }

    @Test("backtest: every strategy with summary.realizedMeanImbalance and steps, byte-equal reruns")
    func backtestJSON() throws {
        let path = try Self.history(topology: true)
        let args = ["backtest", path, "--window", "4", "--horizon", "2", "--strategy", "last,window,hedged:0.5,forecast:trend,auto",
                    "--omit-timing"]
        let a = try CLI.run(args), b = try CLI.run(args)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as! [String: Any]
        let strategies = json["strategies"] as! [[String: Any]]
        #expect(strategies.map { $0["name"] as! String } == ["last", "window", "hedged:0.5", "forecast:trend", "auto"])
        for s in strategies {
            let summary = s["summary"] as! [String: Any]
            #expect((summary["realizedMeanImbalance"] as! Double) >= 1)
            #expect(summary["ratioToLast"] != nil && summary["planSeconds"] == nil)
            #expect((s["steps"] as! [Any]).count == 4)  // origins 4, 6, 8, 10
        }
        let table = try CLI.run(args + ["--format", "table"])
        #expect(table.stdout.contains("realized mean") && table.stdout.contains("forecast:trend"))
    }

    @Test("backtest --oracle: a last entry marked as a reference, never best, recorded in settings and named in the table")
    func backtestOracle() throws {
        let path = try Self.history(topology: true)
        let args = ["backtest", path, "--window", "4", "--horizon", "2", "--strategy", "last,window", "--omit-timing"]
        let plain = try CLI.run(args), with = try CLI.run(args + ["--oracle"])
        #expect(with.status == 0, "\(with.stderr)")
        let a = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as! [String: Any]
        let b = try JSONSerialization.jsonObject(with: Data(with.stdout.utf8)) as! [String: Any]
        let strategies = b["strategies"] as! [[String: Any]]
        #expect(strategies.map { $0["name"] as! String } == ["last", "window", "oracle"])
        #expect(strategies[2]["reference"] as? Bool == true && strategies[0]["reference"] == nil)
        #expect((strategies[2]["steps"] as! [[String: Any]]).allSatisfy { $0["strategy"] as? String == "oracle" })
        #expect(b["best"] as? String == a["best"] as? String && b["best"] as? String != "oracle")
        #expect((b["settings"] as! [String: Any])["oracle"] as? Bool == true)
        #expect((a["settings"] as! [String: Any])["oracle"] as? Bool == false)
        // The strategies' own entries are unchanged by the reference.
        #expect(NSDictionary(dictionary: (a["strategies"] as! [[String: Any]])[1]) == NSDictionary(dictionary: strategies[1]))
        let table = try CLI.run(args + ["--oracle", "--format", "table"])
        #expect(table.stdout.contains("oracle: a reference"), "\(table.stdout)")
    }

    @Test("backtest errors: a too-short trace and a topology that does not fit exit 2 naming the file; usage errors exit 64")
    func backtestErrors() throws {
        let path = try Self.history(topology: true)
        let short = try CLI.run(["backtest", path, "--window", "11", "--horizon", "2"])
        #expect(short.status == 2)
        #expect(short.stdout.isEmpty)
        #expect(short.stderr == "eplb: error: \(path): load: has 12 episodes; window 11 + horizon 2 needs at least 13\n")
        let noTopology = try CLI.run(["backtest", try Self.history(topology: false), "--window", "4", "--horizon", "2"])
        #expect(noTopology.status == 2)
        #expect(noTopology.stderr.contains("topology.devices"))
        #expect(noTopology.stdout.isEmpty)
        for args in [["--strategy", "nope"], ["--strategy", "last,last"], ["--window", "0"], ["--auto-candidates", "auto"],
                     ["--strategy", "hedged,hedged:1"], ["--strategy", "forecast,forecast:mean"],
                     ["--strategy", "last", "--auto-candidates", "window"]] {
            let r = try CLI.run(["backtest", path, "--window", "4", "--horizon", "2"] + args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
        }
        let arShort = try CLI.run(["backtest", path, "--window", "4", "--horizon", "2", "--strategy", "last,forecast:ar", "--order", "4"])
        #expect(arShort.status == 64 && arShort.stderr.contains("--order: an autoregression of order 4 needs more than 4 episodes"),
                "\(arShort.stderr)")
        let twice = try CLI.run(["backtest", path, "--window", "4", "--horizon", "2", "--strategy", "hedged:2.5,hedged:2.50"])
        #expect(twice.stderr.contains("'hedged:2.5' and 'hedged:2.50' are the same strategy (hedged:2.5)"), "\(twice.stderr)")
    }
}

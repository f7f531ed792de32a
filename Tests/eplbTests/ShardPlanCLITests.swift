import Foundation
import Testing

/// `eplb shard-plan`.
@Suite("eplb shard-plan")
struct ShardPlanCLITests {
    static let base = ["shard-plan", "--layers", "61", "--devices", "16", "--layer-bytes", "96MiB"]
    static let timed = base + ["--bandwidth", "100GB/s", "--layer-time", "0.0015", "--latency", "0.002"]

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("61 layers on 16 ranks: owners, balance, memory per device against replication; no schedule without timing")
    func memoryOnly() throws {
        let r = try CLI.run(Self.base + ["--format", "json"])
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        let json = try Self.object(r.stdout)
        #expect(Set(json.keys) == ["balance", "devices", "layers", "memory", "notes", "owners", "settings"])
        let owners = try #require(json["owners"] as? [Int])
        #expect(owners.count == 61 && Array(owners.prefix(17)) == Array(0...15) + [0])
        let memory = try #require(json["memory"] as? [String: Any])
        #expect(memory["replicatedBytes"] as? Int == 6_140_461_056 && memory["maxDeviceBytes"] as? Int == 603_979_776)
        #expect(memory["maxBufferBytes"] as? Int == 201_326_592 && memory["savedBytes"] as? Int == 5_536_481_280)
        let balance = try #require(json["balance"] as? [String: Int])
        #expect(balance == ["maxOwned": 4, "minOwned": 3, "leastMaxOwned": 4, "repeatedOwners": 0, "leastRepeatedOwners": 0])
        let devices = try #require(json["devices"] as? [[String: Int]])
        #expect(devices.count == 16)
        #expect(devices[15] == ["device": 15, "ownedLayers": 3, "bufferLayers": 2, "ownedBytes": 301_989_888,
                                "bufferBytes": 201_326_592, "bytes": 503_316_480, "savedBytes": 5_637_144_576])
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(Set(layers[0].keys) == ["layer", "owner", "issueLayer", "previousPass"])
        #expect(layers[0]["issueLayer"] as? Int == 60 && layers[0]["previousPass"] as? Bool == true)
        #expect(r.stdout.hasPrefix("{\n  \"balance\""))  // sorted keys
    }

    @Test("--prefetch auto with timing: depth 3 hides every broadcast; the schedule block and per-layer times; byte-equal reruns")
    func automaticPrefetch() throws {
        let args = Self.timed + ["--prefetch", "auto", "--format", "json"]
        let a = try CLI.run(args), b = try CLI.run(args)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        let json = try Self.object(a.stdout)
        let settings = try #require(json["settings"] as? [String: Any])
        #expect(settings["prefetch"] as? Int == 3 && settings["prefetchAuto"] as? Bool == true)
        #expect(settings["bandwidth"] as? Double == 1e11 && settings["latency"] as? Double == 0.002)
        let schedule = try #require(json["schedule"] as? [String: Any])
        #expect(Set(schedule.keys) == ["allHidden", "bound", "transferSeconds", "broadcastSeconds", "periodSeconds", "passSeconds",
                                       "computeSeconds", "stallSeconds", "slackSeconds", "coldPassSeconds"])
        #expect(schedule["allHidden"] as? Bool == true && schedule["bound"] as? String == "compute")
        #expect(abs((schedule["slackSeconds"] as! Double) - 0.00149336704) < 1e-15)
        #expect(abs((schedule["coldPassSeconds"] as! Double) - 0.09450663296) < 1e-15)
        let layer = try #require((json["layers"] as? [[String: Any]])?[10])
        #expect(abs((layer["start"] as! Double) - 0.0105) < 1e-15 && abs((layer["neededAt"] as! Double) - 0.015) < 1e-15)
        #expect(layer["hidden"] as? Bool == true && layer["issueLayer"] as? Int == 7)
        #expect((json["notes"] as? [String]) == ["prefetch depth 3 is the smallest that hides every broadcast"])
        #expect((json["memory"] as? [String: Any])?["maxDeviceBytes"] as? Int == 8 * 100_663_296)
    }

    @Test("--format table and --output FILE")
    func tableAndOutput() throws {
        let r = try CLI.run(Self.timed + ["--prefetch", "2", "--format", "table"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("eplb shard-plan: 61 layers × 16 devices, 96.0 MiB per layer, prefetch 2\n"))
        #expect(r.stdout.contains("period 1.503 ms (latency-bound); every layer waits 0.003 ms"))
        #expect(r.stdout.contains("(layers 10–57 not shown; the JSON lists every layer)"))
        let path = TestScratch.root.appendingPathComponent("eplb-shard-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try CLI.run(Self.base + ["--output", path])
        #expect(w.status == 0 && w.stdout.isEmpty)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        let printed = try CLI.run(Self.base + ["--format", "json"]).stdout
        #expect(written == printed)
    }

    @Test("bad flags: zero, negative or non-numeric sizes and out-of-range depths are usage errors (exit 64), nothing on stdout",
          arguments: [
              ["--layers", "0"], ["--layers", "-3"], ["--layers", "many"], ["--layers", "1"],
              ["--devices", "0"], ["--devices", "-1"], ["--devices", "x"],
              ["--layer-bytes", "0"], ["--layer-bytes", "-5"], ["--layer-bytes", "1.5"], ["--layer-bytes", "lots"],
              ["--prefetch", "0"], ["--prefetch", "61"], ["--prefetch", "auto"],
              ["--memory-cap", "8GiB,8GiB"], ["--memory-cap", "-1"], ["--memory-cap", "8GiB,,8GiB"],
              ["--bandwidth", "100GB"], ["--layer-time", "0.001"], ["--latency", "0.001"],
              ["--bandwidth", "0", "--layer-time", "0.001"], ["--bandwidth", "1GB", "--layer-time", "0"],
              ["--bandwidth", "1GB", "--layer-time", "-1"], ["--bandwidth", "1GB", "--layer-time", "0.1", "--latency", "-1"],
              ["--bandwidth", "1GB", "--layer-time", "1e308"], ["--bandwidth", "1GB", "--layer-time", "1e-320"],
              ["--bandwidth", "1GB", "--layer-time", "0.1", "--latency", "1e308"], ["--layers", "100001"],
              ["--layer-bytes", "-1GiB"], ["--layer-bytes", "1.7GiB"], ["--layer-bytes", "1e17"], ["--layer-bytes", "0x10"],
              ["--prefetch", "-1"], ["--memory-cap", "-4GiB"], ["--bandwidth", "-1GB/s", "--layer-time", "0.1"],
          ])
    func usageErrors(flags: [String]) throws {
        var args = ["shard-plan", "--layers", "8", "--devices", "3", "--layer-bytes", "1GiB"]
        // The flag under test replaces its default.
        if let i = args.firstIndex(of: flags[0]) { args.removeSubrange(i...(i + 1)) }
        let r = try CLI.run(args + flags)
        #expect(r.status == 64, "\(flags): \(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("Error: "), "\(flags): \(r.stderr)")
    }

    @Test("caps that cannot hold the layers: exit 2, one line naming --memory-cap, nothing written")
    func capsTooSmall() throws {
        let out = TestScratch.root.appendingPathComponent("eplb-shard-never-\(getpid()).json").path
        let common = ["shard-plan", "--layers", "8", "--devices", "3", "--layer-bytes", "1GiB", "--output", out]
        let r = try CLI.run(common + ["--memory-cap", "4GiB"])
        #expect(r.status == 2 && r.stdout.isEmpty)
        #expect(r.stderr == "eplb: error: --memory-cap: the caps let the devices own 6 of the 8 layers at prefetch depth 1 (each device not holding all layers keeps 2 buffers of 1073741824 bytes); raise the caps, lower the prefetch depth or add devices\n")
        let device = try CLI.run(common + ["--memory-cap", "8GiB,1GiB,8GiB"])
        #expect(device.status == 2 && device.stderr.hasPrefix("eplb: error: --memory-cap (device 1): 1073741824 bytes hold 1 layer(s)"))
        #expect(device.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out))
        let fits = try CLI.run(["shard-plan", "--layers", "8", "--devices", "3", "--layer-bytes", "1GiB",
                                "--memory-cap", "8GiB,4GiB,4GiB", "--format", "json"])
        #expect(fits.status == 0)
        let owners = try Self.object(fits.stdout)["owners"] as? [Int]
        #expect(owners == [0, 1, 0, 1, 0, 2, 0, 2])
    }

    @Test("byte values take decimal and binary suffixes")
    func byteSuffixes() throws {
        // Decimals are exact: 67.1 × 1e9 in floating point is 67099999999.99999.
        for (text, bytes) in [("96MiB", 100_663_296), ("1.5e9", 1_500_000_000), ("2k", 2000), ("2KiB", 2048), ("3GB", 3_000_000_000), ("7", 7),
                              ("67.1GB", 67_100_000_000), ("8.2GB", 8_200_000_000), ("4.1GB", 4_100_000_000), ("1.5GiB", 1_610_612_736),
                              ("0.5k", 500), ("1e-3k", 1), ("2251799813685248", 2_251_799_813_685_248), ("2PB", 2_000_000_000_000_000)] {
            let r = try CLI.run(["shard-plan", "--layers", "4", "--devices", "2", "--layer-bytes", text, "--format", "json"])
            #expect(r.status == 0, "\(text): \(r.stderr)")
            let settings = try Self.object(r.stdout)["settings"] as? [String: Any]
            #expect(settings?["layerBytes"] as? Int == bytes, "\(text)")
            // Whole numbers of bytes are written as JSON integers, also above 1e15.
            #expect(r.stdout.contains(#""layerBytes": \#(bytes),"#), "\(text)")
        }
        let why = try CLI.run(["shard-plan", "--layers", "4", "--devices", "2", "--layer-bytes", "1.7GiB"])
        #expect(why.status == 64 && why.stderr.contains("'1.7GiB' is not a whole number of bytes"), "\(why.stderr)")
        let rate = try CLI.run(["shard-plan", "--layers", "4", "--devices", "2", "--layer-bytes", "96MiB", "--bandwidth", "67.1GB/s",
                                "--layer-time", "0.0015", "--format", "json"])
        #expect(rate.status == 0 && rate.stdout.contains(#""bandwidth": 67100000000,"#), "\(rate.stderr)")
    }
}

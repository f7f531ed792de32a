// NumPyFileTests.swift — a `.npy` file read from disk by parts equals the same bytes decoded in
// memory: values, order, checks and messages.

import Foundation
import Testing
import ExpertPlacement
import ExpertPlacementFormats

/// A scratch directory for one test, removed by the caller.
private func scratch(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("eplb-npyfile-\(getpid())-\(name)")
    try? FileManager.default.removeItem(at: dir)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// The loads read from `bytes` written to a file (by parts, from disk) and decoded in memory,
/// or the two error messages.
private func bothWays(_ bytes: [UInt8], axes: LoadAxes?, in dir: URL,
                      name: String = "loads.npy") throws -> (file: Result<LoadTensor, InputError>, memory: Result<LoadTensor, InputError>) {
    let path = dir.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let file = Result { () throws(InputError) in try InstanceFile.readLoads(path: path, axes: axes) }
    let memory = Result { () throws(InputError) in try InstanceFile.decodeLoads(bytes, file: path, axes: axes) }
    return (file, memory)
}

/// A `.npy` file of version 2.0 whose header is padded to `headerBytes` bytes.
private func longHeaderFile(shape: [Int], values: [Double], headerBytes: Int) -> [UInt8] {
    var header = Array("{'descr': '<f8', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }".utf8)
    header += [UInt8](repeating: 0x20, count: headerBytes - header.count - 1) + [0x0A]
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0]
    for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: header.count >> (8 * k))) }
    out += header
    for v in values { for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: v.bitPattern >> (8 * k))) } }
    return out
}

@Suite("Reading a .npy file from disk by parts")
struct NumPyFileTests {
    @Test("equals the in-memory decoder for every dtype, both axis orders, 1-D to 3-D, small and large (split over parts)",
          arguments: NumPyArray.DType.allCases)
    func sameValues(dtype: NumPyArray.DType) throws {
        let dir = try scratch("values-\(dtype)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 7)
        // (L, T, E): the large ones pass 2^20 values and are read in several parts and chunks.
        for (l, t, e) in [(1, 1, 5), (3, 1, 4), (2, 3, 7), (2, 50, 64), (3, 700, 512)] {
            let values = ContiguousArray((0..<(l * t * e)).map { _ in Double(rng.next() % 5_000) })
            let loads = try LoadTensor(layers: l, episodes: t, experts: e, values: values)
            for axes in [LoadAxes.tle, .lte] {
                let (file, memory) = try bothWays(NumPyArray.encode(loads, axes: axes, dtype: dtype), axes: axes, in: dir)
                let fromFile = try file.get(), fromMemory = try memory.get()
                #expect(fromFile.values == fromMemory.values)
                #expect(fromFile.values == loads.values, "\(l)×\(t)×\(e) \(axes)")
                #expect(fromFile.layers == l && fromFile.episodes == t && fromFile.experts == e)
            }
        }
    }

    @Test("1-D and 2-D arrays, big-endian data and a header longer than the first read")
    func shapesAndHeaders() throws {
        let dir = try scratch("shapes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let row = NumPyArray(shape: [4], dtype: .float64, values: [1, 2, 3, 4]).encode()
        let (a, b) = try bothWays(row, axes: nil, in: dir)
        #expect(try a.get().values == b.get().values)
        let twoD = NumPyArray(shape: [2, 3], dtype: .int32, values: [1, 2, 3, 4, 5, 6]).encode()
        let (c, d) = try bothWays(twoD, axes: .tle, in: dir)
        #expect(try c.get().values == d.get().values)
        // '>f8', built by hand from numpy's header.
        var bigEndian = NumPyArray(shape: [3], dtype: .float64, values: [0.5, 7, 1e6]).encode()
        let headerEnd = bigEndian.firstIndex(of: 0x0A)! + 1
        let descr = Array("'<f8'".utf8)
        let at = bigEndian.indices.first { bigEndian[$0..<($0 + descr.count)].elementsEqual(descr) }!
        bigEndian[at + 1] = UInt8(ascii: ">")
        for i in 0..<3 { bigEndian[(headerEnd + 8 * i)..<(headerEnd + 8 * i + 8)].reverse() }
        let (e, f) = try bothWays(bigEndian, axes: nil, in: dir)
        #expect(Array(try e.get().values) == [0.5, 7, 1e6])
        #expect(Array(try f.get().values) == [0.5, 7, 1e6])
        // A 100 KB header: past the first 64 KiB read.
        let long = longHeaderFile(shape: [2, 2], values: [1, 2, 3, 4], headerBytes: 100_000)
        let (g, h) = try bothWays(long, axes: nil, in: dir)
        #expect(Array(try g.get().values) == [1, 2, 3, 4])
        #expect(Array(try h.get().values) == [1, 2, 3, 4])
    }

    @Test("the same errors: truncated and padded data, short headers, bad values, a 3-D array without --axes")
    func sameErrors() throws {
        let dir = try scratch("errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let loads = try LoadTensor(layers: 2, episodes: 3, experts: 4, values: ContiguousArray((0..<24).map(Double.init)))
        let good = NumPyArray.encode(loads, axes: .tle)
        var negative = NumPyArray.encode(loads, axes: .tle, dtype: .float64)
        negative.replaceSubrange((negative.count - 8)..., with: (0..<8).map { UInt8(truncatingIfNeeded: (-1.0).bitPattern >> (8 * $0)) })
        let long = longHeaderFile(shape: [2, 2], values: [1, 2, 3, 4], headerBytes: 100_000)
        let cases: [(String, [UInt8], LoadAxes?)] = [
            ("truncated data", Array(good.dropLast(5)), .tle),
            ("extra bytes", good + [0, 0, 0, 0], .tle),
            ("no axes", good, nil),
            ("a negative load", negative, .tle),
            ("a header cut short", Array(good.prefix(40)), .tle),
            ("a long header cut short", Array(long.prefix(80_000)), nil),
            ("a preamble cut short", Array(good.prefix(9)), .tle),
        ]
        for (what, bytes, axes) in cases {
            let (file, memory) = try bothWays(bytes, axes: axes, in: dir)
            guard case .failure(let fromFile) = file, case .failure(let fromMemory) = memory else {
                Issue.record("\(what): expected both to fail")
                continue
            }
            #expect(fromFile.description == fromMemory.description, "\(what)")
        }
        // Not a .npy file at all: read as JSON, as before.
        let (json, _) = try bothWays(Array("{\"load\": [[1, 2]]}".utf8), axes: nil, in: dir, name: "loads.json")
        #expect(Array(try json.get().values) == [1, 2])
    }

    @Test("instances: the topology comes from the overrides, the loads from disk")
    func instance() throws {
        let dir = try scratch("instance")
        defer { try? FileManager.default.removeItem(at: dir) }
        let loads = try LoadTensor(layers: 2, episodes: 3, experts: 4, values: ContiguousArray((1...24).map(Double.init)))
        let path = dir.appendingPathComponent("w.npy").path
        try Data(NumPyArray.encode(loads, axes: .tle)).write(to: URL(fileURLWithPath: path))
        let file = try InstanceFile.load(path: path, overrides: TopologyOverrides(devices: 2, slotsPerDevice: 3), axes: .tle)
        #expect(file.problem.loads.values == loads.values)
        #expect(file.problem.topology == Topology(devices: 2, slotsPerDevice: 3))
        #expect(throws: InputError.self) { try InstanceFile.load(path: path, axes: .tle) }
    }
}

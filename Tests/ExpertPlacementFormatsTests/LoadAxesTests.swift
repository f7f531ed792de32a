import ExpertPlacement
import ExpertPlacementFormats
import Testing

/// `.npy` load arrays: a 3-D array is read only in the axis order the caller names.
@Suite("Load axes: explicit order of 3-D .npy arrays")
struct LoadAxesTests {
    /// A (a, b, c) array with distinct values, and the same data with its two leading axes swapped.
    static func pair(_ a: Int, _ b: Int, _ c: Int) -> (NumPyArray, NumPyArray) {
        let values = ContiguousArray((0..<(a * b * c)).map { Double($0 * 7 % 101) })
        var swapped = ContiguousArray<Double>(repeating: 0, count: values.count)
        for i in 0..<a {
            for j in 0..<b {
                for k in 0..<c { swapped[(j * a + i) * c + k] = values[(i * b + j) * c + k] }
            }
        }
        return (NumPyArray(shape: [a, b, c], dtype: .float64, values: values),
                NumPyArray(shape: [b, a, c], dtype: .float32, values: swapped))
    }

    func message(_ body: () throws(InputError) -> Void) -> String? {
        do { try body(); return nil } catch { return error.description }
    }

    @Test("tle reads the transposed array exactly as lte reads the original", arguments: [(2, 3, 4), (1, 5, 3), (7, 1, 2), (3, 3, 3)])
    func transposition(shape: (Int, Int, Int)) throws {
        let (lte, tle) = Self.pair(shape.0, shape.1, shape.2)
        let a = try InstanceFile.decodeLoads(lte.encode(), file: "lte.npy", axes: .lte)
        let b = try InstanceFile.decodeLoads(tle.encode(), file: "tle.npy", axes: .tle)
        #expect((b.layers, b.episodes, b.experts) == (shape.0, shape.1, shape.2))
        #expect(a == b)
        let overrides = TopologyOverrides(devices: shape.2, slotsPerDevice: 1)
        let p = try InstanceFile.decode(tle.encode(), file: "tle.npy", overrides: overrides, axes: .tle).problem
        #expect(p.loads == a)
    }

    @Test("a 3-D array without an order is refused with a message naming the shape and --axes")
    func refusedWithoutAxes() {
        let (lte, _) = Self.pair(2, 3, 4)
        let expected = "t.npy: the shape (2, 3, 4) could be [layers][episodes][experts] or [iterations][layers][experts]; pass --axes lte or --axes tle"
        #expect(message { () throws(InputError) in _ = try InstanceFile.decodeLoads(lte.encode(), file: "t.npy") } == expected)
        #expect(message { () throws(InputError) in
            _ = try InstanceFile.decode(lte.encode(), file: "t.npy", overrides: TopologyOverrides(devices: 4, slotsPerDevice: 1))
        } == expected)
    }

    @Test("2-D (L,E) and 1-D (E,) arrays read the same with no order, lte or tle", arguments: [[2, 3], [3]])
    func lowerRanksUnchanged(shape: [Int]) throws {
        let array = NumPyArray(shape: shape, dtype: .int64, values: ContiguousArray((0..<shape.reduce(1, *)).map(Double.init)))
        let plain = try InstanceFile.decodeLoads(array.encode(), file: "x.npy")
        #expect(plain.episodes == 1 && plain.experts == shape.last!)
        #expect(plain.layers == (shape.count == 2 ? shape[0] : 1))
        for axes in LoadAxes.allCases {
            #expect(try InstanceFile.decodeLoads(array.encode(), file: "x.npy", axes: axes) == plain)
        }
    }

    @Test("JSON loads are [L][T][E]: lte is accepted, tle refused as a contradiction")
    func json() throws {
        let bytes = Array(#"{"load": [[[1, 2], [3, 4]]]}"#.utf8)
        let plain = try InstanceFile.decodeLoads(bytes, file: "x.json")
        #expect(try InstanceFile.decodeLoads(bytes, file: "x.json", axes: .lte) == plain)
        let refused = message { () throws(InputError) in _ = try InstanceFile.decodeLoads(bytes, file: "x.json", axes: .tle) }
        #expect(refused?.hasPrefix("x.json: load: JSON loads are [layers][episodes][experts]") == true, "\(refused ?? "accepted")")
        #expect(refused?.contains("--axes tle") == true)
    }

    @Test("encoding loads in either order gives numpy's bytes for that order and reads back to the same loads",
          arguments: [(2, 3, 4), (5, 1, 3)])
    func encodeInOrder(shape: (Int, Int, Int)) throws {
        let (lte, tle) = Self.pair(shape.0, shape.1, shape.2)
        let loads = try InstanceFile.decodeLoads(lte.encode(), file: "lte.npy", axes: .lte)
        #expect(NumPyArray.encode(loads, axes: .lte, dtype: .float64) == lte.encode())
        let tleBytes = NumPyArray.encode(loads, axes: .tle)
        #expect(tleBytes == tle.encode())
        #expect(try InstanceFile.decodeLoads(tleBytes, file: "tle.npy", axes: .tle) == loads)
        #expect(NumPyArray.encode(loads, axes: .tle, dtype: .int32)
                == NumPyArray(shape: tle.shape, dtype: .int32, values: tle.values).encode())
    }

    @Test("a bad value in a tle array is named by its index in the file's own order")
    func badValueIndex() {
        let array = NumPyArray(shape: [2, 1, 2], dtype: .float64, values: [1, 2, 3, -4])
        #expect(message { () throws(InputError) in _ = try InstanceFile.decodeLoads(array.encode(), file: "t.npy", axes: .tle) }
                == "t.npy: load[1][0][1]: negative load -4.0")
    }
}

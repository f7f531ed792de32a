import ExpertPlacement
import ExpertPlacementFormats
import ExpertPlacementTestSupport
import Testing

@Suite("LoadWindowReader")
struct LoadWindowReaderTests {
    static func window(seed: UInt64, shape: [Int], dtype: NumPyArray.DType) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        let count = shape.reduce(1, *)
        let values = ContiguousArray((0..<count).map { _ in Double(Int.random(in: 0...1000, using: &rng)) })
        return NumPyArray(shape: shape, dtype: dtype, values: values).encode()
    }

    @Test("reads exactly what InstanceFile.decodeLoads reads, window after window, in both axis orders")
    func equalsDecodeLoads() throws {
        for axes in LoadAxes.allCases {
            let reader = LoadWindowReader(axes: axes)
            var held: [LoadTensor] = []
            for seed in 0..<6 {
                let shape = seed < 3 ? [5, 3, 7] : [4, 2, 9]  // a new shape reallocates
                let bytes = Self.window(seed: UInt64(seed), shape: shape, dtype: seed % 2 == 0 ? .float32 : .float64)
                let read = try reader.read(bytes, file: "w.npy")
                #expect(read == (try InstanceFile.decodeLoads(bytes, file: "w.npy", axes: axes)), "\(axes) seed \(seed)")
                if seed % 2 == 1 { held.append(read) }  // a held tensor must not change under the next read
            }
            for (i, tensor) in held.enumerated() {
                let seed = 2 * i + 1
                let bytes = Self.window(seed: UInt64(seed), shape: seed < 3 ? [5, 3, 7] : [4, 2, 9],
                                        dtype: seed % 2 == 0 ? .float32 : .float64)
                #expect(tensor == (try InstanceFile.decodeLoads(bytes, file: "w.npy", axes: axes)), "\(axes): held window \(seed) changed")
            }
        }
    }

    @Test("a bad value is named by its index in the file, as the ordinary reader names it")
    func badValue() throws {
        var values = ContiguousArray<Double>(repeating: 1, count: 2 * 3 * 4)
        values[1 * 12 + 2 * 4 + 3] = -5  // file index [1][2][3]
        let bytes = NumPyArray(shape: [2, 3, 4], dtype: .float64, values: values).encode()
        let reader = LoadWindowReader(axes: .tle)
        #expect(throws: InputError.self) { _ = try reader.read(bytes, file: "bad.npy") }
        do {
            _ = try reader.read(bytes, file: "bad.npy")
        } catch {
            #expect(error.description.contains("load[1][2][3]"), "\(error.description)")
        }
        let flat = NumPyArray(shape: [4], dtype: .float64, values: [1, 2, 3, 4]).encode()
        #expect(try reader.read(flat, file: "flat.npy").experts == 4)
    }

    @Test("a window large enough to be converted on several threads: the same values, a bad value in any part found")
    func largeWindowInParts() throws {
        // 1,100 iterations × 4 layers × 256 experts = 1.1 M values: above the size split over cores.
        let shape = [1_100, 4, 256]
        let bytes = Self.window(seed: 9, shape: shape, dtype: .float32)
        let reader = LoadWindowReader(axes: .tle)
        let read = try reader.read(bytes, file: "big.npy")
        #expect(read == (try InstanceFile.decodeLoads(bytes, file: "big.npy", axes: .tle)))
        for (i, j, k) in [(0, 0, 0), (549, 3, 255), (1_099, 2, 17)] {
            var values = try NumPyArray.decode(bytes).values
            values[(i * 4 + j) * 256 + k] = .nan
            let bad = NumPyArray(shape: shape, dtype: .float32, values: values).encode()
            #expect(throws: InputError.self) { _ = try reader.read(bad, file: "big.npy") }
            do {
                _ = try reader.read(bad, file: "big.npy")
            } catch {
                #expect(error.description.contains("[\(i)][\(j)][\(k)]"), "\(error.description)")
            }
        }
    }
}

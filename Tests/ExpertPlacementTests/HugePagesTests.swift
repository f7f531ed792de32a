import ExpertPlacement
import Testing

@Suite("Huge-page advice")
struct HugePagesTests {
    @Test("the advised range is the 2 MiB-aligned interior of the buffer, none under 4 MiB; values stay intact")
    func interiorAndValues() {
        let size = HugePages.size
        for (count, offset) in [(0, 0), (100, 0), (size, 0), (2 * size - 1, 8), (2 * size, 0), (2 * size + 5, 3),
                                (5 * size, 0), (5 * size + 7, 4096)] {
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: count + offset + 8, alignment: size)
            defer { storage.deallocate() }
            let buffer = UnsafeMutableRawBufferPointer(rebasing: storage[offset ..< offset + count])
            let base = UInt(bitPattern: buffer.baseAddress)
            if let (start, length) = HugePages.interior(of: buffer) {
                #expect(count >= 2 * size)
                #expect(start % UInt(size) == 0 && length % size == 0 && length > 0)
                #expect(start >= base && start + UInt(length) <= base + UInt(count), "\(count) bytes at +\(offset)")
                // Every whole huge page inside the buffer is covered.
                #expect(start - base < UInt(size) && base + UInt(count) - (start + UInt(length)) < UInt(size))
            } else {
                #expect(count < 2 * size, "\(count) bytes at +\(offset): no range")
            }
            HugePages.advise(buffer)
            for i in stride(from: 0, to: count, by: 4096) { buffer[i] = UInt8(truncatingIfNeeded: i / 4096) }
            let intact = stride(from: 0, to: count, by: 4096).allSatisfy { buffer[$0] == UInt8(truncatingIfNeeded: $0 / 4096) }
            #expect(intact, "\(count) bytes at +\(offset)")
        }
    }
}

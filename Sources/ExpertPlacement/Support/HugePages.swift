#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel to back a large, freshly allocated buffer with transparent huge pages.
///
/// A 1,024-iteration window of a DeepSeek-V3-sized model becomes 122 MB of doubles in a new
/// allocation; touched page by page it costs about 30,000 page faults, more than converting the
/// values. Where transparent huge pages are enabled for `madvise` regions (Linux's common default),
/// the 2 MiB-aligned part of the buffer is faulted in 2 MiB at a time instead (measured: a fresh
/// decode of that window in 43 ms instead of 99 ms, `eplb rebalance` on it in ≈ 0.35 s instead
/// of ≈ 0.5 s). Elsewhere, and for buffers under 4 MiB, this does nothing; the values are the same
/// either way. Used by every reader of large load arrays (the `.npy` decoder, the C API's copy
/// of the caller's loads).
package enum HugePages {
    /// The huge-page size assumed (x86-64 and most arm64 kernels).
    package static let size = 2 << 20

    /// The 2 MiB-aligned interior of `buffer` as (start address, length), or `nil` when the
    /// buffer is under two huge pages (it might hold none whole).
    package static func interior(of buffer: UnsafeMutableRawBufferPointer) -> (start: UInt, length: Int)? {
        guard let base = buffer.baseAddress, buffer.count >= 2 * size else { return nil }
        let mask = UInt(size - 1)
        let start = (UInt(bitPattern: base) + mask) & ~mask
        let end = (UInt(bitPattern: base) + UInt(buffer.count)) & ~mask
        return end > start ? (start, Int(end - start)) : nil
    }

    /// Advises `MADV_HUGEPAGE` on the 2 MiB-aligned interior of `buffer` (best effort: an error
    /// is ignored, the buffer then keeps ordinary pages).
    package static func advise(_ buffer: UnsafeMutableRawBufferPointer) {
        #if canImport(Glibc)
        guard let (start, length) = interior(of: buffer),
              let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(pointer, length, MADV_HUGEPAGE)
        #endif
    }
}

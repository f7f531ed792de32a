import Dispatch

/// Runs independent per-layer jobs on all cores and returns their results in layer order.
///
/// Layers are handed to `DispatchQueue.concurrentPerform`. Each job writes only its own result slot, so the output does not depend on the number
/// of threads or on scheduling: the same input gives the same result on 1 core or 64.
/// Public so that other modules of the package (the exact solver) parallelise the same way.
public enum LayerParallelism {
    /// Online processors (at least 1).
    public static var processorCount: Int { ProcessInfoShim.activeProcessorCount }

    /// Minimum estimated work (in arbitrary "element" units) before going parallel; below it the
    /// dispatch overhead costs more than it saves.
    static let parallelThreshold = 20_000

    /// Maps `body` over `0..<count`, in parallel when `work` (an estimate of the total element
    /// operations) is large enough, and returns the results in index order.
    public static func map<Result: Sendable, Failure: Error>(
        count: Int, work: Int = .max, maxThreads: Int? = nil, _ body: @Sendable (Int) throws(Failure) -> Result
    ) throws(Failure) -> [Result] {
        let threads = Swift.min(maxThreads ?? ProcessInfoShim.activeProcessorCount, ProcessInfoShim.activeProcessorCount)
        if count <= 1 || work < parallelThreshold || threads <= 1 {
            var out: [Result] = []
            out.reserveCapacity(count)
            for i in 0..<count { out.append(try body(i)) }
            return out
        }
        let results = ResultSlots<Result>(count: count)
        let errors = ResultSlots<Failure>(count: count)
        // One iteration per layer: concurrentPerform hands them out dynamically, which balances
        // layers of unequal cost; with fewer threads than cores, layers are dealt in contiguous
        // chunks to `threads` workers instead.
        let workers = threads < ProcessInfoShim.activeProcessorCount ? threads : count
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let lower = count * worker / workers, upper = count * (worker + 1) / workers
            for i in lower..<upper {
                do throws(Failure) { results.set(i, try body(i)) } catch { errors.set(i, error) }
            }
        }
        if let first = errors.firstValue() { throw first }
        return results.values()
    }
}

/// Write-once slots for results produced on several threads; each index is written by one thread only.
final class ResultSlots<Value>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Value?>
    private let count: Int

    init(count: Int) {
        self.count = count
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil, count: count)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    func set(_ index: Int, _ value: Value) { storage[index] = value }

    func firstValue() -> Value? {
        for i in 0..<count { if let v = storage[i] { return v } }
        return nil
    }

    func values() -> [Value] { (0..<count).map { storage[$0]! } }
}

/// The number of cores to use, without importing Foundation into the core module.
enum ProcessInfoShim {
    static let activeProcessorCount: Int = {
        #if canImport(Glibc)
        let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return Swift.max(1, n)
        #elseif canImport(Darwin)
        let n = Int(sysconf(_SC_NPROCESSORS_ONLN))
        return Swift.max(1, n)
        #else
        return 1
        #endif
    }()
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

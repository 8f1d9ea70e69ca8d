import Dispatch

/// A bounded parallel loop for element-wise kernels. BLAS has threads of its own; this is only for
/// the work between products, split into at most `maxThreads` contiguous chunks of rows.
public enum Parallel {
    nonisolated(unsafe) public static var maxThreads: Int = defaultThreads()

    static func defaultThreads() -> Int {
        if let s = getenvString("EFFILORA_THREADS"), let n = Int(s), n > 0 { return n }
        return ProcessInfoCores.active
    }

    /// Calls `body` on disjoint ranges that cover `0..<count`. Work under `minimumChunk` items per
    /// thread runs inline on the caller's thread.
    @inlinable
    public static func forRanges(_ count: Int, minimumChunk: Int = 64, _ body: (Range<Int>) -> Void) {
        let chunks = Swift.min(maxThreads, (count + minimumChunk - 1) / Swift.max(minimumChunk, 1))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let per = (count + chunks - 1) / chunks
        // The chunks touch disjoint rows; the caller's closure is not Sendable only by its type.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = c * per
            let end = Swift.min(start + per, count)
            if start < end { body(start..<end) }
        }
    }
}

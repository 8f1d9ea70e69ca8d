/// Wall time spent in the frozen base's products (and, inside them, bf16 input rounding and the
/// dequantisation of quantized weights) and in attention, summed while `enabled` (for
/// `bench train`'s step breakdown; off otherwise, when it costs one branch per call). Products and
/// attention are called from one thread at a time, so plain sums suffice.
public enum StepProfile {
    public enum Part: Int, CaseIterable, Sendable { case baseProducts, attention, inputRounding, dequantization }

    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) private static var totals = [Double](repeating: 0, count: Part.allCases.count)

    @inline(__always)
    public static func measure<R>(_ part: Part, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let start = monotonicSeconds()
        defer { totals[part.rawValue] += monotonicSeconds() - start }
        return body()
    }

    /// The sums since the last reset, then zeroes them.
    public static func take() -> [Part: Double] {
        defer { totals = totals.map { _ in 0 } }
        return Dictionary(uniqueKeysWithValues: Part.allCases.map { ($0, totals[$0.rawValue]) })
    }
}

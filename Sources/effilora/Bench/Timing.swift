import EffiCore

/// Median wall time of `body` in seconds: one warm-up call, then repeated calls until both
/// `minimumRepeats` and `minimumSeconds` are reached.
func medianSeconds(minimumRepeats: Int = 5, minimumSeconds: Double = 0.3, _ body: () -> Void) -> Double {
    body()
    var samples: [Double] = []
    let start = monotonicSeconds()
    while samples.count < minimumRepeats || monotonicSeconds() - start < minimumSeconds {
        let t0 = monotonicSeconds()
        body()
        samples.append(monotonicSeconds() - t0)
        if samples.count >= 1000 { break }
    }
    samples.sort()
    return samples[samples.count / 2]
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// GFLOP/s of x Wᵀ at [m, k] × [n, k] in `precision` (a frozen weight's forward), median of
/// repeated calls: the product limit that throughput benchmarks report against.
func productLimit(m: Int, n: Int, k: Int, precision: ComputePrecision = .float32) -> Double {
    let a = Tensor(shape: [m, k]), w = FrozenLinear(Tensor(shape: [n, k]), precision: precision), out = Tensor(shape: [m, n])
    let s = medianSeconds { w.forward(a, into: out) }
    return 2 * Double(m * n * k) / s / 1e9
}

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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax cross-entropy over the last dimension with an ignore index for masked positions:
///   loss = Σ_{rows not ignored} (logsumexp(z) − z[target]) / count.
public enum CrossEntropy {
    /// The target of a position that does not count (prompt tokens, padding), as in PyTorch.
    public static let ignoreIndex: Int32 = -100

    /// logits: [N, V]; targets: N ids in 0..<V or `ignoreIndex`; lse: [N], written for the
    /// backward. Returns the summed negative log-likelihood and the number of counted rows.
    public static func forward(logits: Tensor, targets: [Int32], lse: Tensor) -> (nllSum: Double, count: Int) {
        let v = logits.columns, n = logits.rows
        precondition(targets.count == n && lse.count == n,
                     "CrossEntropy.forward: logits \(logits.shape), \(targets.count) targets, lse \(lse.shape)")
        for (row, t) in targets.enumerated() where t != ignoreIndex && !(0..<Int32(v)).contains(t) {
            preconditionFailure("CrossEntropy: target \(t) at row \(row) is outside 0..<\(v) and not the ignore index")
        }
        let zp = logits.data, lp = lse.data
        Parallel.forRanges(n, minimumChunk: 4) { rows in
            for row in rows { lp[row] = logSumExp(zp + row * v, v) }
        }
        var sum = 0.0, count = 0
        for (row, t) in targets.enumerated() where t != ignoreIndex {
            sum += Double(lp[row] - zp[row * v + Int(t)])
            count += 1
        }
        return (sum, count)
    }

    /// dz = scale · (softmax(z) − onehot(target)); zero on ignored rows. `dLogits` may be `logits`.
    /// For the mean loss, scale = 1 / count.
    public static func backward(logits: Tensor, targets: [Int32], lse: Tensor, scale: Float, dLogits: Tensor) {
        let v = logits.columns, n = logits.rows
        precondition(targets.count == n && lse.count == n && dLogits.count == logits.count,
                     "CrossEntropy.backward: logits \(logits.shape), dLogits \(dLogits.shape)")
        let zp = logits.data, dp = dLogits.data, lp = lse.data
        targets.withUnsafeBufferPointer { tp in
            Parallel.forRanges(n, minimumChunk: 4) { rows in
                for row in rows {
                    let z = zp + row * v, dz = dp + row * v
                    let t = tp[row]
                    if t == ignoreIndex {
                        dz.update(repeating: 0, count: v)
                        continue
                    }
                    let m = F8(repeating: lp[row])
                    var i = 0
                    while i + 8 <= v { store8(exp8(load8(z + i) - m) * scale, dz + i); i += 8 }
                    while i < v { dz[i] = exp1(z[i] - lp[row]) * scale; i += 1 }
                    dz[Int(t)] -= scale
                }
            }
        }
    }

    /// log Σ exp(z_i), stable: max first.
    static func logSumExp(_ z: UnsafePointer<Float>, _ v: Int) -> Float {
        var mv = F8(repeating: -.infinity), i = 0
        while i + 8 <= v { mv = lanewiseMax(mv, load8(z + i)); i += 8 }
        var m = mv.max()
        while i < v { m = Swift.max(m, z[i]); i += 1 }
        if m == -.infinity { return m }
        let mm = F8(repeating: m)
        var acc = F8()
        i = 0
        while i + 8 <= v { acc += exp8(load8(z + i) - mm); i += 8 }
        var s = sum8(acc)
        while i < v { s += exp1(z[i] - m); i += 1 }
        return m + logf(s)
    }

    /// log softmax(row)[target] = row[target] − (max + log Σ_j exp(row[j] − max)), in Double.
    public static func logProbability(row: UnsafePointer<Float>, count v: Int, target: Int32) -> Double {
        var m = -Float.infinity
        for j in 0..<v { m = Swift.max(m, row[j]) }
        var sum = 0.0
        for j in 0..<v { sum += Double(exp1(row[j] - m)) }
        return Double(row[Int(target)]) - (Double(m) + log(sum))
    }
}

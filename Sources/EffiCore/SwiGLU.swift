/// The SiLU-gated MLP activation:  h = silu(g) ∘ u,  silu(g) = g · σ(g).
public enum SwiGLU {
    /// gate, up, out: [N, F].
    public static func forward(gate: Tensor, up: Tensor, out: Tensor) {
        precondition(gate.count == up.count && out.count == gate.count,
                     "SwiGLU.forward: gate \(gate.shape), up \(up.shape), out \(out.shape)")
        let g = gate.data, u = up.data, h = out.data
        Parallel.forRanges(gate.count, minimumChunk: 1 << 15) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let gv = load8(g + i)
                store8(gv * sigmoid8(gv) * load8(u + i), h + i)
                i += 8
            }
            while i < range.upperBound { h[i] = g[i] / (1 + exp1(-g[i])) * u[i]; i += 1 }
        }
    }

    /// dg = dh ∘ u ∘ σ(g)(1 + g(1 − σ(g))),  du = dh ∘ silu(g).
    public static func backward(dOut: Tensor, gate: Tensor, up: Tensor, dGate: Tensor, dUp: Tensor) {
        precondition(gate.count == up.count && dOut.count == gate.count && dGate.count == gate.count && dUp.count == gate.count,
                     "SwiGLU.backward: shapes do not match \(gate.shape)")
        let g = gate.data, u = up.data, dh = dOut.data, dg = dGate.data, du = dUp.data
        Parallel.forRanges(gate.count, minimumChunk: 1 << 15) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let gv = load8(g + i), d = load8(dh + i)
                let s = sigmoid8(gv)
                store8(d * load8(u + i) * s * (1 + gv * (1 - s)), dg + i)
                store8(d * gv * s, du + i)
                i += 8
            }
            while i < range.upperBound {
                let s = 1 / (1 + exp1(-g[i]))
                dg[i] = dh[i] * u[i] * s * (1 + g[i] * (1 - s))
                du[i] = dh[i] * g[i] * s
                i += 1
            }
        }
    }
}

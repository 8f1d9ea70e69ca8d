/// RMSNorm over the last dimension:  y = x · rstd ∘ w,  rstd = 1 / sqrt(mean(x²) + eps).
public enum RMSNorm {
    /// x, out: [N, C]; weight: [C]; rstd: [N] (saved for the backward).
    public static func forward(x: Tensor, weight: Tensor, eps: Float, out: Tensor, rstd: Tensor) {
        let c = x.columns, n = x.rows
        precondition(weight.count == c && out.count == x.count && rstd.count == n,
                     "RMSNorm.forward: x \(x.shape), weight \(weight.shape), out \(out.shape), rstd \(rstd.shape)")
        let xp = x.data, wp = weight.data, yp = out.data, rp = rstd.data
        Parallel.forRanges(n, minimumChunk: 64) { rows in
            for row in rows {
                let xr = xp + row * c, yr = yp + row * c
                var acc = F8(), i = 0
                while i + 8 <= c { let v = load8(xr + i); acc += v * v; i += 8 }
                var ss = sum8(acc)
                while i < c { ss += xr[i] * xr[i]; i += 1 }
                let r = 1 / (ss / Float(c) + eps).squareRoot()
                rp[row] = r
                i = 0
                while i + 8 <= c { store8(load8(xr + i) * r * load8(wp + i), yr + i); i += 8 }
                while i < c { yr[i] = xr[i] * r * wp[i]; i += 1 }
            }
        }
    }

    /// dx (+)= rstd · g − x · rstd³ · mean(g ∘ x),  g = w ∘ dy.  (The weight is frozen: no dw.)
    public static func backward(dy: Tensor, x: Tensor, weight: Tensor, rstd: Tensor, dx: Tensor, accumulate: Bool = false) {
        let c = x.columns, n = x.rows
        precondition(dy.count == x.count && dx.count == x.count && weight.count == c && rstd.count == n,
                     "RMSNorm.backward: dy \(dy.shape), x \(x.shape), dx \(dx.shape)")
        let xp = x.data, wp = weight.data, gp = dy.data, dp = dx.data, rp = rstd.data
        Parallel.forRanges(n, minimumChunk: 64) { rows in
            for row in rows {
                let xr = xp + row * c, gr = gp + row * c, dr = dp + row * c
                var acc = F8(), i = 0
                while i + 8 <= c { acc += load8(wp + i) * load8(gr + i) * load8(xr + i); i += 8 }
                var dot = sum8(acc)
                while i < c { dot += wp[i] * gr[i] * xr[i]; i += 1 }
                let r = rp[row]
                let k = r * r * r * dot / Float(c)
                i = 0
                while i + 8 <= c {
                    var v = load8(wp + i) * load8(gr + i) * r - load8(xr + i) * k
                    if accumulate { v += load8(dr + i) }
                    store8(v, dr + i)
                    i += 8
                }
                while i < c {
                    let v = wp[i] * gr[i] * r - xr[i] * k
                    dr[i] = accumulate ? dr[i] + v : v
                    i += 1
                }
            }
        }
    }
}

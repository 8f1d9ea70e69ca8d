import EffiCore

/// One decoder layer: the activations its forward keeps (one table of fields and widths), its
/// forward, and beside it the backward for activations (the base weights are frozen). With
/// h = rmsnorm and Δ the adapters' contributions:
///   h1 = h(x),  q,k,v = W h1 (+ b) + Δ,  rope(q, k),  a = attn(q, k, v),  x' = x + Wo a + Δo
///   h2 = h(x'), g, u = W h2 + Δ,  m = silu(g) ∘ u,  x'' = x' + Wdown m + Δdown
extension Decoder {
    /// What one layer's forward writes besides x: inference reuses one for every layer, training
    /// keeps one per layer for the backward (then also the residual x' between the two blocks).
    final class LayerState {
        enum Field: Hashable { case q, k, v, attended, gate, up, rstd1, rstd2, lse, xMid }
        let q, k, v, attended, gate, up, rstd1, rstd2: Tensor
        /// The attention's log-sum-exp per row and head, [batch, heads, seqLen].
        let lse: Tensor
        /// The residual after the attention block (x'), kept for the backward.
        let xMid: Tensor?
        /// Scratch: the normed input of each block, and silu(gate) ∘ up.
        let h, act: Tensor

        static func layout(_ c: ModelConfig, keepsResidual: Bool) -> ActivationLayout<Field> {
            let d = c.modelWidth, kv = c.kvWidth, f = c.ffnWidth
            return ActivationLayout(fields: [(.q, d), (.k, kv), (.v, kv), (.attended, d), (.gate, f), (.up, f),
                                             (.rstd1, 1), (.rstd2, 1), (.lse, c.heads)] + (keepsResidual ? [(.xMid, d)] : []))
        }

        /// Carved out of `storage` when given (rows · layout.floatsPerRow floats), else allocated.
        init(_ c: ModelConfig, batch: Int, seqLen: Int, keepsResidual: Bool, scratch: (h: Tensor, act: Tensor)? = nil,
             storage: Tensor? = nil) {
            let n = batch * seqLen, layout = Self.layout(c, keepsResidual: keepsResidual)
            let t = layout.carve(storage ?? Tensor(shape: [n * layout.floatsPerRow]), rows: n)
            q = t[.q]!; k = t[.k]!; v = t[.v]!; attended = t[.attended]!; gate = t[.gate]!; up = t[.up]!
            rstd1 = t[.rstd1]!; rstd2 = t[.rstd2]!; xMid = t[.xMid]
            lse = t[.lse]!.view(shape: [batch, c.heads, seqLen])
            h = scratch?.h ?? Tensor(shape: [n, c.modelWidth]); act = scratch?.act ?? Tensor(shape: [n, c.ffnWidth])
        }
    }

    /// The backward's buffers for one layer, reused across layers and steps; also holds the
    /// running x and ∂L/∂x of the training pass.
    final class LayerScratch {
        enum Field: Hashable { case x, h, dx, dh, dq, dk, dv, dAttended, act, dAct, dGate, dUp }
        let x, h, dx, dh, dq, dk, dv, dAttended, act, dAct, dGate, dUp: Tensor

        static func layout(_ c: ModelConfig) -> ActivationLayout<Field> {
            let d = c.modelWidth, kv = c.kvWidth, f = c.ffnWidth
            return ActivationLayout(fields: [(.x, d), (.h, d), (.dx, d), (.dh, d), (.dq, d), (.dk, kv), (.dv, kv), (.dAttended, d),
                                             (.act, f), (.dAct, f), (.dGate, f), (.dUp, f)])
        }

        init(_ c: ModelConfig, rows n: Int, storage: Tensor) {
            let t = Self.layout(c).carve(storage, rows: n)
            x = t[.x]!; h = t[.h]!; dx = t[.dx]!; dh = t[.dh]!; dq = t[.dq]!; dk = t[.dk]!; dv = t[.dv]!
            dAttended = t[.dAttended]!; act = t[.act]!; dAct = t[.dAct]!; dGate = t[.dGate]!; dUp = t[.dUp]!
        }
    }

    /// One layer over x [rows, width], in place, token t of sequence b at position
    /// positionOffsets[b] + t; `attend(q, k, v, out)` is the attention (on rotated q and k) that writes `out`:
    ///   q,k,v = W h(x) (+ b) + Δ;  rope(q, k);  a = attend(q, k, v);  x += Wo a + Δo
    ///   g, u = W h(x) + Δ;  m = silu(g) ∘ u;  x += Wdown m + Δdown
    func forwardLayer(_ l: Int, x: Tensor, state s: LayerState, batch: Int, seqLen: Int, positionOffsets: [Int],
                      adapter: DecoderAdapter?, keyMask: [Bool]?, attend: (Tensor, Tensor, Tensor, Tensor) -> Void) {
        let c = config, w = weights.layers[l], rows = TokenRows(sequences: batch, keyMask: keyMask)
        RMSNorm.forward(x: x, weight: w.attentionNorm, eps: c.normEpsilon, out: s.h, rstd: s.rstd1)
        project(s.h, [(w.q, w.qBias, s.q), (w.k, w.kBias, s.k), (w.v, w.vBias, s.v)])
        adapter?.forward(layer: l, input: .attention, x: s.h, outputs: [.q: s.q, .k: s.k, .v: s.v], rows: rows)
        rope.forward(s.q, batch: batch, seqLen: seqLen, heads: c.heads, positionOffsets: positionOffsets)
        rope.forward(s.k, batch: batch, seqLen: seqLen, heads: c.kvHeads, positionOffsets: positionOffsets)
        attend(s.q, s.k, s.v, s.attended)
        w.o.forward(s.attended, into: x, accumulate: true)
        adapter?.forward(layer: l, input: .attentionOutput, x: s.attended, outputs: [.o: x], rows: rows)
        s.xMid?.copy(from: x)
        RMSNorm.forward(x: x, weight: w.ffnNorm, eps: c.normEpsilon, out: s.h, rstd: s.rstd2)
        FrozenLinear.forward(s.h, [(w.gate, s.gate), (w.up, s.up)])
        adapter?.forward(layer: l, input: .ffn, x: s.h, outputs: [.gate: s.gate, .up: s.up], rows: rows)
        SwiGLU.forward(gate: s.gate, up: s.up, out: s.act)
        w.down.forward(s.act, into: x, accumulate: true)
        adapter?.forward(layer: l, input: .ffnHidden, x: s.act, outputs: [.down: x], rows: rows)
    }

    /// The backward of `forwardLayer` for activations: `dx` holds ∂L/∂x'' on entry and ∂L/∂x on
    /// exit; `input` is the layer's input x and `a` what its forward saved (with the residual x').
    func backwardLayer(_ l: Int, dx: Tensor, input xIn: Tensor, saved a: LayerState, scratch s: LayerScratch, batch b: Int, seqLen t: Int,
                       adapter: DecoderAdapter, keyMask: [Bool]?) {
        let c = config, w = weights.layers[l], xMid = a.xMid!, rows = TokenRows(sequences: b, keyMask: keyMask)
        // FFN block: x'' = x' + Wdown m + Δdown(m),  m = silu(g) ∘ u
        SwiGLU.forward(gate: a.gate, up: a.up, out: s.act)
        w.down.inputGradient(dx, into: s.dAct)
        adapter.backward(layer: l, input: .ffnHidden, x: s.act, outputGradients: [.down: dx], dx: s.dAct, rows: rows)
        SwiGLU.backward(dOut: s.dAct, gate: a.gate, up: a.up, dGate: s.dGate, dUp: s.dUp)
        RMSNorm.forward(x: xMid, weight: w.ffnNorm, eps: c.normEpsilon, out: s.h, rstd: a.rstd2)
        w.gate.inputGradient(s.dGate, into: s.dh)
        w.up.inputGradient(s.dUp, into: s.dh, accumulate: true)
        adapter.backward(layer: l, input: .ffn, x: s.h, outputGradients: [.gate: s.dGate, .up: s.dUp], dx: s.dh, rows: rows)
        RMSNorm.backward(dy: s.dh, x: xMid, weight: w.ffnNorm, rstd: a.rstd2, dx: dx, accumulate: true)
        // Attention block: x' = x + Wo a + Δo(a)
        w.o.inputGradient(dx, into: s.dAttended)
        adapter.backward(layer: l, input: .attentionOutput, x: a.attended, outputGradients: [.o: dx], dx: s.dAttended, rows: rows)
        attention.backward(dOut: s.dAttended, q: a.q, k: a.k, v: a.v, out: a.attended, lse: a.lse,
                           batch: b, seqLen: t, keyMask: keyMask, dq: s.dq, dk: s.dk, dv: s.dv)
        rope.backward(s.dq, batch: b, seqLen: t, heads: c.heads)
        rope.backward(s.dk, batch: b, seqLen: t, heads: c.kvHeads)
        RMSNorm.forward(x: xIn, weight: w.attentionNorm, eps: c.normEpsilon, out: s.h, rstd: a.rstd1)
        w.q.inputGradient(s.dq, into: s.dh)
        w.k.inputGradient(s.dk, into: s.dh, accumulate: true)
        w.v.inputGradient(s.dv, into: s.dh, accumulate: true)
        adapter.backward(layer: l, input: .attention, x: s.h, outputGradients: [.q: s.dq, .k: s.dk, .v: s.dv], dx: s.dh, rows: rows)
        RMSNorm.backward(dy: s.dh, x: xIn, weight: w.attentionNorm, rstd: a.rstd1, dx: dx, accumulate: true)
    }
}

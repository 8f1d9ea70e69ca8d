import EffiCore
import EffiModel

/// Several adapters applied at once, as llama.cpp stacks LoRA files: at every site any of them
/// adapts, y += Σ_k c_k · s_k · B_k A_k x (c_k: the adapter's own scale, s_k its LoRA scale). Only
/// updates that add stack — LoRA, LoRA-FA, EffiLoRA with one B per site, VeRA as its equivalent
/// LoRA — so routed experts, Lily and DoRA are refused with the reason. Inference only.
public final class StackedLoRA: DecoderAdapter {
    /// Per layer and site: (A [r, d_in], c·s·B [d_out, r]) of each adapter that adapts it.
    private var terms: [Int: [Site: [(a: Tensor, b: Tensor)]]] = [:]

    /// `members`: each adapter with a name for errors (its path) and its scale.
    public init(_ members: [(name: String, adapters: Adapters, scale: Float)]) throws {
        for m in members {
            if let reason = m.adapters.notAnAdditiveUpdate {
                throw AdapterError("\(m.name): \(reason), so it does not add to another adapter's update; it cannot be stacked (use it alone)")
            }
            let factors: [LoRAFactor]
            do { factors = try m.adapters.loraFactors() } catch { throw AdapterError("\(m.name): \(error); only additive adapters stack") }
            for f in factors {
                let b = Tensor(shape: f.b.shape)
                for i in 0..<b.count { b[i] = m.scale * f.scale * f.b[i] }
                terms[f.layer, default: [:]][f.site, default: []].append((f.a, b))
            }
        }
    }

    public func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor], rows: TokenRows) {
        guard let sites = terms[layer] else { return }
        for (site, y) in outputs {
            for term in sites[site] ?? [] {
                let u = Tensor(shape: [x.rows, term.a.rows])
                MatMul.nt(x, term.a, into: u)
                MatMul.nt(u, term.b, into: y, accumulate: true)
            }
        }
    }

    public func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, rows: TokenRows) {}
    public var lowestLayerNeedingGradients: Int? { nil }
    public var mixesTokensOfASequence: Bool { false }

    /// W += Σ_k c_k · s_k · B_k A_k at every adapted site (Float32 weights, in place).
    public func fuse(into weights: ModelWeights) throws {
        for (layer, sites) in terms {
            for (site, list) in sites {
                guard let w = weights.layers[layer].weight(of: site).float32 else {
                    throw AdapterError("fusing needs the base in Float32 (load it with --compute-dtype f32), not \(weights.precision.rawValue)")
                }
                for term in list { MatMul.nn(term.b, term.a, into: w, accumulate: true) }
            }
        }
    }
}

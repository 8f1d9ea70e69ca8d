import EffiCore
import EffiModel

/// One site's update written as plain LoRA: ΔW = scale · B A, with A [r, d_in] and B [d_out, r]
/// in the row order of the model the adapter belongs to.
public struct LoRAFactor {
    public let layer: Int
    public let site: Site
    public let a: Tensor
    public let b: Tensor
    public let scale: Float
}

extension Adapters {
    /// Why the adapter's update is not one fixed matrix per site (so it cannot be a PEFT LoRA or
    /// be fused into the base), or nil when it is.
    public var notAFixedLowRankUpdate: String? {
        guard config.effectiveExperts > 1 else { return nil }
        return "method \(config.method.rawValue) with \(config.effectiveExperts) B experts mixes them with an input-dependent router, "
            + "so its update differs token by token: it is not a LoRA and cannot be fused. Use it with effilora's own generate, score and eval"
    }

    /// Every live site's update as LoRA factors, layer by layer in site order: LoRA, LoRA-FA and
    /// EffiLoRA as they are (EffiLoRA's shared A is the same tensor at each of its sites); VeRA as
    /// its equivalent LoRA (see `VeRABranch`). Layers the Reducer dropped have no update and are
    /// left out; frozen ones keep theirs.
    public func loraFactors() throws -> [LoRAFactor] {
        if let reason = notAFixedLowRankUpdate { throw AdapterError(reason) }
        var factors: [LoRAFactor] = []
        for layer in groups.indices where layerModes[layer] != .dropped {
            for input in SiteInput.allCases {
                guard let g = groups[layer][input] else { continue }
                for branch in g.branches.sorted(by: { $0.site < $1.site }) {
                    let f = try branch.loraFactor(a: branch.projection.value)
                    factors.append(LoRAFactor(layer: layer, site: branch.site, a: f.a, b: f.b, scale: f.scale))
                }
            }
        }
        return factors
    }

    /// Adds each site's scale · B A into the base weights (in place): the model then computes what
    /// the model with this adapter computed, without the adapter.
    public func fuse(into weights: ModelWeights) throws {
        guard weights.layers.count == modelConfig.layers else {
            throw AdapterError("the adapter is for \(modelConfig.layers) layers, the weights have \(weights.layers.count)")
        }
        for f in try loraFactors() {
            guard let w = weights.layers[f.layer].weight(of: f.site).float32 else {
                throw AdapterError("fusing needs the base in Float32 (load it with --compute-dtype f32), not \(weights.precision.rawValue)")
            }
            guard w.shape == [f.b.rows, f.a.columns] else {
                throw AdapterError("layer \(f.layer) \(f.site.rawValue): weight \(w.shape) does not match the adapter's [\(f.b.rows), \(f.a.columns)]")
            }
            MatMul.nn(f.b, f.a, into: w, alpha: f.scale, accumulate: true)
        }
    }

    /// Moves the rows of every q/k B (and expert head) from one Q/K row order to the other, so an
    /// adapter trained on a GGUF llama model means the same on its Hugging Face form and back.
    /// VeRA's B is frozen and shared with v, so it cannot be reordered for q/k alone.
    public func reorderQKRows(from: RoPELayout, to: RoPELayout) throws {
        guard from != to else { return }
        for layer in groups.indices {
            for g in groups[layer].values {
                for branch in g.branches {
                    guard let heads = QKRowOrder.heads(of: branch.site, modelConfig) else { continue }
                    try branch.reorderOutputRows { QKRowOrder.reorder($0, heads: heads, from: from, to: to) }
                }
            }
        }
    }
}

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

    /// Why its update is not one added to W (so it cannot be stacked with others or be a llama.cpp
    /// LoRA), or nil when it is: DoRA's factors (which PEFT stores beside its magnitude) are not its
    /// whole update; the others' reason is `notAFixedLowRankUpdate` or their branch's.
    public var notAnAdditiveUpdate: String? {
        guard config.method == .dora else { return nil }
        return "DoRA rescales each output row of W by m / ‖W + s·B·A‖, which is not an update added to W"
    }

    /// Every live site's update as LoRA factors, layer by layer in site order: LoRA, LoRA-FA and
    /// EffiLoRA as they are (EffiLoRA's shared A is the same tensor at each of its sites); VeRA as
    /// its equivalent LoRA (see `VeRABranch`). Layers the Reducer dropped have no update and are
    /// left out; frozen ones keep theirs.
    public func loraFactors() throws -> [LoRAFactor] {
        if let reason = notAFixedLowRankUpdate { throw AdapterError(reason) }
        return try liveBranches.map { layer, branch in
            let f = try branch.loraFactor(a: branch.projection.value)
            return LoRAFactor(layer: layer, site: branch.site, a: f.a, b: f.b, scale: f.scale)
        }
    }

    /// Folds each site's update into the base weights (in place; LoRA-like methods add scale · B A,
    /// DoRA rescales the rows): the model then computes what the model with this adapter computed,
    /// without the adapter.
    public func fuse(into weights: ModelWeights) throws {
        if let reason = notAFixedLowRankUpdate { throw AdapterError(reason) }
        guard weights.layers.count == modelConfig.layers else {
            throw AdapterError("the adapter is for \(modelConfig.layers) layers, the weights have \(weights.layers.count)")
        }
        for (layer, branch) in liveBranches {
            guard let w = weights.layers[layer].weight(of: branch.site).float32 else {
                throw AdapterError("fusing needs the base in Float32 (load it with --compute-dtype f32), not \(weights.precision.rawValue)")
            }
            let a = branch.projection.value
            guard w.shape == [branch.site.outputWidth(modelConfig), a.columns] else {
                throw AdapterError("layer \(layer) \(branch.site.rawValue): weight \(w.shape) does not match the adapter's [\(branch.site.outputWidth(modelConfig)), \(a.columns)]")
            }
            try branch.fold(into: w, a: a)
        }
    }

    /// The branches of the layers the Reducer did not drop, layer by layer in site order.
    var liveBranches: [(layer: Int, branch: AdapterBranch)] {
        groups.indices.filter { layerModes[$0] != .dropped }.flatMap { layer in
            SiteInput.allCases.compactMap { groups[layer][$0] }.flatMap(\.branches).sorted { $0.site < $1.site }.map { (layer, $0) }
        }
    }

    /// Moves the rows of every q/k B (and expert head, DoRA magnitude) from one Q/K row order to the
    /// other, so an adapter trained on a GGUF llama model means the same on its Hugging Face form and
    /// back. A parameter shared by several q (or k) sites is moved once; one shared with other sites
    /// (VeRA's B, shared with v) cannot be moved, and the branch says so.
    public func reorderQKRows(from: RoPELayout, to: RoPELayout) throws {
        guard from != to else { return }
        var moved = Set<ObjectIdentifier>()
        for layer in groups.indices {
            for g in groups[layer].values {
                for branch in g.branches {
                    guard let heads = QKRowOrder.heads(of: branch.site, modelConfig) else { continue }
                    for p in try branch.outputRowParameters() where moved.insert(ObjectIdentifier(p)).inserted {
                        p.value.copy(from: QKRowOrder.reorder(p.value, heads: heads, from: from, to: to))
                    }
                }
            }
        }
    }
}

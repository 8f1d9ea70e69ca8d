import EffiCore

/// The decoder's tensors under their names in a GGUF file (llama.cpp's) and in a Hugging Face
/// folder (transformers'): one table for the readers and the writers.
public enum TensorName: CaseIterable, Sendable {
    case embedding, outputNorm, output
    case attentionNorm, q, qBias, k, kBias, v, vBias, o, ffnNorm, gate, up, down

    public var isPerLayer: Bool { ![.embedding, .outputNorm, .output].contains(self) }

    /// The name in a GGUF file (`layer` for the per-layer tensors).
    public func gguf(_ layer: Int = 0) -> String {
        switch self {
        case .embedding: "token_embd.weight"
        case .outputNorm: "output_norm.weight"
        case .output: "output.weight"
        case .attentionNorm: "blk.\(layer).attn_norm.weight"
        case .q: "blk.\(layer).attn_q.weight"
        case .qBias: "blk.\(layer).attn_q.bias"
        case .k: "blk.\(layer).attn_k.weight"
        case .kBias: "blk.\(layer).attn_k.bias"
        case .v: "blk.\(layer).attn_v.weight"
        case .vBias: "blk.\(layer).attn_v.bias"
        case .o: "blk.\(layer).attn_output.weight"
        case .ffnNorm: "blk.\(layer).ffn_norm.weight"
        case .gate: "blk.\(layer).ffn_gate.weight"
        case .up: "blk.\(layer).ffn_up.weight"
        case .down: "blk.\(layer).ffn_down.weight"
        }
    }

    /// The name in a Hugging Face folder (`layer` for the per-layer tensors).
    public func huggingFace(_ layer: Int = 0) -> String {
        let p = "model.layers.\(layer)."
        return switch self {
        case .embedding: "model.embed_tokens.weight"
        case .outputNorm: "model.norm.weight"
        case .output: "lm_head.weight"
        case .attentionNorm: p + "input_layernorm.weight"
        case .q: p + "self_attn.q_proj.weight"
        case .qBias: p + "self_attn.q_proj.bias"
        case .k: p + "self_attn.k_proj.weight"
        case .kBias: p + "self_attn.k_proj.bias"
        case .v: p + "self_attn.v_proj.weight"
        case .vBias: p + "self_attn.v_proj.bias"
        case .o: p + "self_attn.o_proj.weight"
        case .ffnNorm: p + "post_attention_layernorm.weight"
        case .gate: p + "mlp.gate_proj.weight"
        case .up: p + "mlp.up_proj.weight"
        case .down: p + "mlp.down_proj.weight"
        }
    }

    /// The row-major shape for a config.
    public func shape(_ c: ModelConfig) -> [Int] {
        let d = c.modelWidth, f = c.ffnWidth, kv = c.kvWidth
        return switch self {
        case .embedding, .output: [c.vocabulary, d]
        case .outputNorm, .attentionNorm, .ffnNorm, .qBias: [d]
        case .kBias, .vBias: [kv]
        case .q, .o: [d, d]
        case .k, .v: [kv, d]
        case .gate, .up: [f, d]
        case .down: [d, f]
        }
    }

    /// The heads of a tensor whose rows follow the RoPE layout (Q's and K's weights and biases).
    public func qkHeads(_ c: ModelConfig) -> Int? {
        switch self {
        case .q, .qBias: c.heads
        case .k, .kBias: c.kvHeads
        default: nil
        }
    }
}

extension LayerWeights {
    /// Builds a layer from a loader of its tensors (nil for an absent optional bias), the linear
    /// weights stored in `precision` as each is loaded.
    init(load: (TensorName) throws -> Tensor, optional: (TensorName) throws -> Tensor?, precision: ComputePrecision) rethrows {
        try self.init(linear: { FrozenLinear(try load($0), precision: precision) }, load: load, optional: optional)
    }

    /// `linear` makes the seven linear weights, `load` the norms, `optional` the biases.
    init(linear: (TensorName) throws -> FrozenLinear, load: (TensorName) throws -> Tensor,
         optional: (TensorName) throws -> Tensor?) rethrows {
        self.init(attentionNorm: try load(.attentionNorm), q: try linear(.q), k: try linear(.k), v: try linear(.v),
                  o: try linear(.o), ffnNorm: try load(.ffnNorm), gate: try linear(.gate), up: try linear(.up), down: try linear(.down),
                  qBias: try optional(.qBias), kBias: try optional(.kBias), vBias: try optional(.vBias))
    }

    /// The layer's tensor of a per-layer name as Float32 values (nil for an absent bias).
    public func tensor(_ name: TensorName) -> Tensor? {
        switch name {
        case .attentionNorm: attentionNorm
        case .q: q.values()
        case .qBias: qBias
        case .k: k.values()
        case .kBias: kBias
        case .v: v.values()
        case .vBias: vBias
        case .o: o.values()
        case .ffnNorm: ffnNorm
        case .gate: gate.values()
        case .up: up.values()
        case .down: down.values()
        case .embedding, .outputNorm, .output: nil
        }
    }
}

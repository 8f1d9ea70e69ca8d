import EffiCore
import EffiFormats
import EffiModel

/// llama.cpp's LoRA adapter file, as its `convert_lora_to_gguf.py` writes it and `llama_adapter_lora_init`
/// reads it: a GGUF with `general.type` = adapter, `general.architecture` = the base's,
/// `adapter.type` = lora, `adapter.lora.alpha` (FLOAT32; llama.cpp scales by alpha / rank), and per
/// adapted base tensor `blk.N.attn_q.weight.lora_a` [r, in] and `….lora_b` [out, r] (row-major; in
/// ggml's order ne = [in, r] and [r, out], which llama.cpp checks against the base tensor).
public enum LlamaCppAdapter {
    public static func aName(_ layer: Int, _ site: Site) -> String { site.tensorName.gguf(layer) + ".lora_a" }
    public static func bName(_ layer: Int, _ site: Site) -> String { site.tensorName.gguf(layer) + ".lora_b" }
}

extension Adapters {
    /// Writes the adapter as llama.cpp's LoRA GGUF for a GGUF base of this architecture: every
    /// live site's LoRA factors (EffiLoRA's shared A materialised per site, VeRA as its equivalent
    /// LoRA), each site's scale folded into B so that llama.cpp's alpha / rank (alpha written = r)
    /// applies 1, and q/k rows in the order llama.cpp's GGUF of this architecture holds them
    /// (llama: adjacent pairs; an adapter trained on a Hugging Face folder is permuted). Methods
    /// whose update is not a fixed LoRA (routed experts, Lily) and DoRA (llama.cpp has no
    /// magnitude) are refused with the reason.
    public func exportLlamaCppGGUF(to path: String, dtype: GGMLType = .f32) throws {
        if let reason = notAnAdditiveUpdate {
            throw AdapterError("\(reason), so llama.cpp's LoRA adapters cannot express it; fuse it into the model (effilora fuse --format gguf) or export it as PEFT")
        }
        guard [.f32, .f16, .bf16, .q8_0].contains(dtype) else { throw AdapterError("adapter tensors as \(dtype): use f32, f16, bf16 or q8_0") }
        let factors = try loraFactors()
        let target = ModelConfig.ggufRoPELayout(architecture: modelConfig.architecture)
        var writer = GGUFWriter()
        writer.set("general.architecture", string: modelConfig.architecture)
        writer.set("general.type", string: "adapter")
        writer.set("adapter.type", string: "lora")
        writer.set("adapter.lora.alpha", float32: Float(config.rank))
        for f in factors {
            let b = Tensor(shape: f.b.shape)
            for i in 0..<b.count { b[i] = f.b[i] * f.scale }
            let ordered = QKRowOrder.heads(of: f.site, modelConfig).map { QKRowOrder.reorder(b, heads: $0, from: modelConfig.ropeLayout, to: target) } ?? b
            writer.add(LlamaCppAdapter.aName(f.layer, f.site), f.a, as: dtype)
            writer.add(LlamaCppAdapter.bName(f.layer, f.site), ordered, as: dtype)
        }
        try writer.write(to: path)
    }
}

extension Adapters {
    /// Reads llama.cpp's LoRA adapter GGUF (as `exportLlamaCppGGUF` or `convert_lora_to_gguf.py`
    /// write it) as a `lora` adapter for `model`: rank r of its tensors, scale alpha / r (llama.cpp's;
    /// alpha absent or 0: scale 1), q/k rows moved from the order of llama.cpp's GGUF of this
    /// architecture to the model's. Sites a layer lacks keep B = 0 (no update), as llama.cpp leaves
    /// them alone. Anything else in the file is an error naming the tensor or key.
    public static func importLlamaCppGGUF(path: String, model: ModelConfig) throws -> Adapters {
        let file = try GGUFFile(path: path)
        guard file.metadata["general.type"]?.string == "adapter", file.metadata["adapter.type"]?.string == "lora" else {
            throw FormatError(path, "is not a llama.cpp LoRA adapter (general.type \(file.metadata["general.type"]?.string ?? "absent"), adapter.type \(file.metadata["adapter.type"]?.string ?? "absent"); expected adapter and lora)")
        }
        guard file.architecture == model.architecture else {
            throw FormatError(path, "general.architecture \(file.architecture ?? "absent") does not match the model's \(model.architecture)")
        }
        var pairs: [String: (layer: Int, site: Site)] = [:]
        for layer in 0..<model.layers { for site in Site.allCases { pairs[site.tensorName.gguf(layer)] = (layer, site) } }
        var found: [(layer: Int, site: Site, a: GGUFTensorInfo, b: GGUFTensorInfo)] = []
        for t in file.tensors where t.name.hasSuffix(".lora_a") {
            let base = String(t.name.dropLast(".lora_a".count))
            guard let (layer, site) = pairs[base] else { throw FormatError(path, "tensor \(t.name) adapts \(base), which is not a linear weight of this \(model.layers)-layer model") }
            guard let b = file.tensor(base + ".lora_b") else { throw FormatError(path, "tensor \(base).lora_b is missing (its lora_a is there)") }
            found.append((layer, site, t, b))
        }
        let paired = Set(found.flatMap { [$0.a.name, $0.b.name] })
        if let stray = file.tensors.first(where: { !paired.contains($0.name) }) {
            throw FormatError(path, "tensor \(stray.name) is neither a lora_a nor the lora_b of one")
        }
        guard let rank = found.first?.a.shape.first else { throw FormatError(path, "has no LoRA tensors") }
        var c = AdapterConfig()
        c.method = .lora
        c.rank = rank
        let alpha = file.metadata["adapter.lora.alpha"]?.double ?? 0
        c.alpha = alpha == 0 ? Float(rank) : Float(alpha)
        c.targets = Array(Set(found.map(\.site))).sorted()
        let layers = Array(Set(found.map(\.layer))).sorted()
        c.layers = layers.count == model.layers ? [] : layers
        let adapters = try Adapters(config: c, model: model)
        for f in found {
            let shapes = ([rank, f.site.inputWidth(model)], [f.site.outputWidth(model), rank])
            guard f.a.shape == shapes.0, f.b.shape == shapes.1 else {
                throw FormatError(path, "tensors \(f.a.name) \(f.a.shape) and \(f.b.name) \(f.b.shape): expected \(shapes.0) and \(shapes.1)")
            }
            for (info, role) in [(f.a, ParameterKey.SiteRole.a), (f.b, .b(expert: nil))] {
                guard let p = adapters.parameter(named: ParameterKey.site(layer: f.layer, site: f.site, role: role).name) else { continue }
                file.values(of: info, into: p.value.data)
                try AdapterInputChecks.requireFinite(p.value, tensor: info.name, in: path)
            }
        }
        try adapters.reorderQKRows(from: ModelConfig.ggufRoPELayout(architecture: model.architecture), to: model.ropeLayout)
        return adapters
    }
}

import EffiCore
import EffiFormats
import EffiModel
import Foundation

/// Hugging Face PEFT's LoRA folder: `adapter_config.json` and `adapter_model.safetensors` with
/// `base_model.model.model.layers.{i}.{module}.lora_A.weight` [r, d_in] and `….lora_B.weight`
/// [d_out, r], Q/K rows in Hugging Face's rotate-half order.
public enum PEFT {
    public static let configName = "adapter_config.json", weightsName = "adapter_model.safetensors"

    /// The module path PEFT matches rank and alpha patterns against, e.g. model.layers.3.self_attn.q_proj.
    public static func moduleName(layer: Int, site: Site) -> String { "model.layers.\(layer).\(site.huggingFaceModule)" }

    /// The tensor name of a site's lora_A (`matrix` "A") or lora_B ("B").
    public static func tensorName(layer: Int, site: Site, matrix: String) -> String {
        tensorName(layer: layer, site: site, "lora_\(matrix).weight")
    }

    /// The tensor name of a site's parameter `suffix` (`lora_magnitude_vector`, `lily_A.weight`, …).
    public static func tensorName(layer: Int, site: Site, _ suffix: String) -> String {
        "base_model.model.\(moduleName(layer: layer, site: site)).\(suffix)"
    }

    /// DoRA's magnitude of a site.
    public static func magnitudeName(layer: Int, site: Site) -> String { tensorName(layer: layer, site: site, "lora_magnitude_vector") }

    /// Writes the folder: the safetensors file and the config.
    static func write(_ writer: SafetensorsWriter, config json: [String: Any], to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writer.write(to: (folder as NSString).appendingPathComponent(weightsName))
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try writeAtomically(data, to: (folder as NSString).appendingPathComponent(configName))
    }

    /// `layers_to_transform` / `layers_pattern`: null when every layer is adapted.
    static func layerSelection(_ layers: [Int], of model: ModelConfig) -> [String: Any] {
        let all = layers.count == model.layers
        return ["layers_to_transform": all ? NSNull() : layers as Any, "layers_pattern": all ? NSNull() : "layers" as Any]
    }

    /// The adapted layers a config's `layers_to_transform` lists (a list or one layer; absent or
    /// null: all, which `AdapterConfig.layers` writes as []).
    static func layersToTransform(_ json: HuggingFaceConfig) -> [Int] {
        (json.json["layers_to_transform"] as? [Int]) ?? (json.json["layers_to_transform"] as? Int).map { [$0] } ?? []
    }

    /// The module names PEFT matches (`q_proj`, …).
    static func targetModules(_ targets: [Site]) -> [String] { targets.map { String($0.huggingFaceModule.split(separator: ".").last!) } }
}

extension Adapters {
    /// Writes the adapter as a PEFT folder that `PeftModel.from_pretrained` loads onto the Hugging
    /// Face form of the base. LoRA-like methods become a PEFT LoRA: EffiLoRA's shared A is written
    /// out at every site, VeRA's vectors are folded into per-site A and B (scale 1), DoRA adds its
    /// `lora_magnitude_vector`s (`use_dora`), the Reducer's dropped layers are left out
    /// (`layers_to_transform` lists the rest). Lily is written as PEFT's Lily. q/k rows trained on a
    /// GGUF llama model are put back in Hugging Face order. A routed multi-B adapter is refused with
    /// the reason.
    public func exportPEFT(to folder: String, baseModel: String) throws {
        if config.method == .lily { return try exportPEFTLily(to: folder, baseModel: baseModel) }
        let factors = try loraFactors()
        let c = config
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        let toHuggingFace = { (t: Tensor, site: Site) in
            QKRowOrder.heads(of: site, self.modelConfig).map { QKRowOrder.reorder(t, heads: $0, from: self.modelConfig.ropeLayout, to: .rotateHalf) } ?? t
        }
        for (f, branch) in zip(factors, liveBranches.map(\.branch)) {
            writer.add(PEFT.tensorName(layer: f.layer, site: f.site, matrix: "A"), f.a)
            writer.add(PEFT.tensorName(layer: f.layer, site: f.site, matrix: "B"), toHuggingFace(f.b, f.site))
            if let dora = branch as? DoRABranch {
                writer.add(PEFT.magnitudeName(layer: f.layer, site: f.site), toHuggingFace(dora.magnitude.value, f.site))
            }
        }
        let vera = c.method == .vera
        let json: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": baseModel, "inference_mode": true,
            "r": c.rank, "lora_alpha": vera ? Double(c.rank) : Double(c.alpha), "use_rslora": vera ? false : c.rslora,
            "lora_dropout": Double(c.dropout), "target_modules": PEFT.targetModules(c.targets),
            "bias": "none", "fan_in_fan_out": false, "use_dora": c.method == .dora, "init_lora_weights": true,
            "modules_to_save": NSNull(), "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](), "revision": NSNull(),
        ].merging(PEFT.layerSelection(Array(Set(factors.map(\.layer))).sorted(), of: modelConfig)) { a, _ in a }
        try PEFT.write(writer, config: json, to: folder)
    }
}

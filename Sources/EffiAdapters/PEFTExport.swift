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
        "base_model.model.\(moduleName(layer: layer, site: site)).lora_\(matrix).weight"
    }
}

extension Adapters {
    /// Writes the adapter as a PEFT LoRA folder that `PeftModel.from_pretrained` loads onto the
    /// Hugging Face form of the base: EffiLoRA's shared A is written out at every site, VeRA's
    /// vectors are folded into per-site A and B (scale 1), the Reducer's dropped layers are left
    /// out (`layers_to_transform` lists the rest), and q/k B rows trained on a GGUF llama model
    /// are put back in Hugging Face order. A routed multi-B adapter is refused with the reason.
    public func exportPEFT(to folder: String, baseModel: String) throws {
        let factors = try loraFactors()
        let c = config
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for f in factors {
            let b = QKRowOrder.heads(of: f.site, modelConfig).map {
                QKRowOrder.reorder(f.b, heads: $0, from: modelConfig.ropeLayout, to: .rotateHalf)
            } ?? f.b
            writer.add(PEFT.tensorName(layer: f.layer, site: f.site, matrix: "A"), f.a)
            writer.add(PEFT.tensorName(layer: f.layer, site: f.site, matrix: "B"), b)
        }
        let layers = Array(Set(factors.map(\.layer))).sorted()
        let vera = c.method == .vera
        let json: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": baseModel, "inference_mode": true,
            "r": c.rank, "lora_alpha": vera ? Double(c.rank) : Double(c.alpha), "use_rslora": vera ? false : c.rslora,
            "lora_dropout": Double(c.dropout), "target_modules": c.targets.map { $0.huggingFaceModule.split(separator: ".").last! },
            "layers_to_transform": layers.count == modelConfig.layers ? NSNull() : layers as Any,
            "layers_pattern": layers.count == modelConfig.layers ? NSNull() : "layers" as Any,
            "bias": "none", "fan_in_fan_out": false, "use_dora": false, "init_lora_weights": true,
            "modules_to_save": NSNull(), "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](), "revision": NSNull(),
        ]
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writer.write(to: (folder as NSString).appendingPathComponent(PEFT.weightsName))
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try writeAtomically(data, to: (folder as NSString).appendingPathComponent(PEFT.configName))
    }
}

import EffiFormats
import EffiModel
import Foundation

extension Adapters {
    /// A Hugging Face PEFT LoRA adapter folder (`adapter_config.json` + `adapter_model.safetensors`)
    /// as a `lora` adapter: tensors `base_model.model.model.layers.{i}.{module}.lora_A.weight`
    /// [r, d_in] and `….lora_B.weight` [d_out, r]; scale lora_alpha / r (or / √r with use_rslora).
    /// Options this tool does not implement (DoRA, per-module rank or alpha patterns, biases,
    /// fan_in_fan_out) are errors rather than ignored.
    public static func importPEFT(folder: String, model: ModelConfig) throws -> Adapters {
        let configPath = (folder as NSString).appendingPathComponent("adapter_config.json")
        let json = try HuggingFaceConfig(path: configPath)
        let type = try json.string("peft_type")
        guard type == "LORA" else { throw FormatError(configPath, "peft_type \(type) is not supported (LORA)") }
        for key in ["use_dora", "fan_in_fan_out", "lora_bias"] where try json.bool(key, default: false) {
            throw FormatError(configPath, "\(key) = true is not supported")
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let pattern = json.json[key] as? [String: Any], !pattern.isEmpty {
                throw FormatError(configPath, "\(key) is not supported (one rank and alpha for every module)")
            }
        }
        if let bias = json.json["bias"] as? String, bias != "none" { throw FormatError(configPath, "bias \(bias) is not supported (none)") }
        var c = AdapterConfig()
        c.method = .lora
        c.rank = try json.int("r")
        c.alpha = Float(try json.double("lora_alpha"))
        c.rslora = try json.bool("use_rslora", default: false)
        c.dropout = Float(try json.double("lora_dropout", default: 0))
        c.targets = try AdapterConfig.parseTargets(try json.strings("target_modules"))
        if json.contains("layers_to_transform") {
            c.layers = (json.json["layers_to_transform"] as? [Int]) ?? (json.json["layers_to_transform"] as? Int).map { [$0] } ?? []
        }
        let adapters = try Adapters(config: c, model: model)
        let weightsPath = (folder as NSString).appendingPathComponent("adapter_model.safetensors")
        let file = try SafetensorsFile(path: weightsPath)
        var expected = Set(file.names)
        for p in adapters.parameters {
            // layers.{i}.{site}.A → base_model.model.model.layers.{i}.{module}.lora_A.weight
            let parts = p.name.split(separator: ".")
            guard parts.count == 4, let site = Site(rawValue: String(parts[2])) else { continue }
            let name = "base_model.model.model.layers.\(parts[1]).\(site.huggingFaceModule).lora_\(parts[3]).weight"
            guard let info = file.info(name) else { throw FormatError(weightsPath, "tensor \(name) is missing") }
            guard info.shape == p.value.shape else {
                throw FormatError(weightsPath, "tensor \(name) has shape \(info.shape), expected \(p.value.shape)")
            }
            try file.readFloats(name, into: p.value.data, count: p.value.count)
            expected.remove(name)
        }
        if let extra = expected.sorted().first {
            throw FormatError(weightsPath, "tensor \(extra) does not belong to a LoRA of the configured targets and layers (\(expected.count) such tensors)")
        }
        return adapters
    }
}

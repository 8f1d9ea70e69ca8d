import EffiCore
import EffiFormats
import EffiModel
import Foundation

extension Adapters {
    /// A Hugging Face PEFT LoRA adapter folder (`adapter_config.json` + `adapter_model.safetensors`)
    /// as a `lora` adapter: tensors `base_model.model.model.layers.{i}.{module}.lora_A.weight`
    /// [r, d_in] and `….lora_B.weight` [d_out, r]; scale lora_alpha / r (or / √r with use_rslora).
    /// With `use_dora` it is a `dora` adapter and `….lora_magnitude_vector` [d_out] holds each site's
    /// magnitude (`weights`: the base's, which DoRA runs on; without them the adapter can be saved
    /// but not run). PEFT adapters are in Hugging Face's Q/K row order; on a GGUF llama model the
    /// q/k B rows (and magnitudes) are permuted as its weights are. Per-module `rank_pattern` / `alpha_pattern` entries (matched as
    /// PEFT does: the whole module name, or a dotted suffix, as a regular expression) are exact too:
    /// every site is stored at the largest rank, zero-padded, with its own scale folded into B
    /// (the imported adapter then has alpha = r, scale 1). Options this tool does not implement
    /// (biases, fan_in_fan_out, other PEFT types) are errors rather than ignored. PEFT's Lily folders
    /// (`peft_type` LILY) are read by `importPEFTLily`.
    public static func importPEFT(folder: String, model: ModelConfig, weights: ModelWeights? = nil) throws -> Adapters {
        let configPath = (folder as NSString).appendingPathComponent(PEFT.configName)
        let json = try HuggingFaceConfig(path: configPath)
        let type = try json.string("peft_type")
        if type == "LILY" { return try importPEFTLily(folder: folder, json: json, model: model) }
        guard type == "LORA" else { throw FormatError(configPath, "peft_type \(type) is not supported (LORA, with or without use_dora, and LILY)") }
        for key in ["fan_in_fan_out", "lora_bias"] where try json.bool(key, default: false) {
            throw FormatError(configPath, "\(key) = true is not supported")
        }
        if let bias = json.json["bias"], !(bias is NSNull), bias as? String != "none" {
            throw FormatError(configPath, "bias \(JSONKind.render(bias)) is not supported (\"none\")")
        }
        if let saved = json.json["modules_to_save"], !(saved is NSNull), (saved as? [Any])?.isEmpty != true {
            throw FormatError(configPath, "modules_to_save \(JSONKind.render(saved)) is not supported (whole trained modules, not LoRA; null or [] expected)")
        }
        if let task = json.json["task_type"], !(task is NSNull), task as? String != "CAUSAL_LM" {
            throw FormatError(configPath, "task_type \(JSONKind.render(task)) is not supported (CAUSAL_LM: a causal language model's adapter)")
        }
        let rankPattern = try pattern(json, "rank_pattern") { $0 as? Int }
        let alphaPattern = try pattern(json, "alpha_pattern") { ($0 as? NSNumber)?.doubleValue }
        var c = AdapterConfig()
        c.method = try json.bool("use_dora", default: false) ? .dora : .lora
        c.rank = try json.int("r")
        c.alpha = Float(try json.double("lora_alpha"))
        c.rslora = try json.bool("use_rslora", default: false)
        c.dropout = Float(try json.double("lora_dropout", default: 0))
        c.targets = try AdapterConfig.parseTargets(try json.strings("target_modules"))
        c.layers = PEFT.layersToTransform(json)
        // Per site: its rank and scale from the patterns (PEFT's defaults r and lora_alpha).
        func rank(_ module: String) -> Int { match(rankPattern, module) ?? c.rank }
        func scale(_ module: String) -> Float {
            let r = Float(rank(module)), alpha = Float(match(alphaPattern, module) ?? Double(c.alpha))
            return c.rslora ? alpha / r.squareRoot() : alpha / r
        }
        let patterned = !rankPattern.isEmpty || !alphaPattern.isEmpty
        var stored = c
        if patterned {
            let modules = c.adaptedLayers(of: model).flatMap { l in c.targets.map { PEFT.moduleName(layer: l, site: $0) } }
            stored.rank = modules.map(rank).max() ?? c.rank
            stored.alpha = Float(stored.rank)
            stored.rslora = false
        }
        let adapters = try Adapters(config: stored, model: model, weights: weights)
        let weightsPath = (folder as NSString).appendingPathComponent(PEFT.weightsName)
        let file = try SafetensorsFile(path: weightsPath)
        var expected = Set(file.names)
        for p in adapters.parameters {
            guard case .site(let layer, let site, let role) = p.key else { continue }
            let module = PEFT.moduleName(layer: layer, site: site), r = rank(module)
            let (name, shape): (String, [Int])
            switch role {
            case .a: (name, shape) = (PEFT.tensorName(layer: layer, site: site, matrix: "A"), [r, site.inputWidth(model)])
            case .b(nil): (name, shape) = (PEFT.tensorName(layer: layer, site: site, matrix: "B"), [site.outputWidth(model), r])
            case .magnitude: (name, shape) = (PEFT.magnitudeName(layer: layer, site: site), [site.outputWidth(model)])
            default: continue
            }
            guard let info = file.info(name) else { throw FormatError(weightsPath, "tensor \(name) is missing") }
            guard info.shape == shape else { throw FormatError(weightsPath, "tensor \(name) has shape \(info.shape), expected \(shape)") }
            let values = Tensor(shape: shape)
            try file.readFloats(name, into: values.data, count: values.count)
            try AdapterInputChecks.requireFinite(values, tensor: name, in: weightsPath)
            // Into the stored rank: A's first r rows; B's first r columns, times the site's scale
            // over the stored one (1 without patterns).
            let factor = patterned && role == .b(expert: nil) ? scale(module) : 1
            let columns = p.value.columns, width = values.columns
            for i in 0..<values.rows {
                for j in 0..<width { p.value[i * columns + j] = factor * values[i * width + j] }
            }
            expected.remove(name)
        }
        if let extra = expected.sorted().first {
            throw FormatError(weightsPath, "tensor \(extra) does not belong to a \(c.method == .dora ? "DoRA" : "LoRA") of the configured targets and layers (\(expected.count) such tensors)")
        }
        try adapters.reorderQKRows(from: .rotateHalf, to: model.ropeLayout)
        return adapters
    }

    /// A `rank_pattern` / `alpha_pattern` object: pattern → value, each key checked as a regular
    /// expression (`AdapterInputChecks.patternRegex`).
    static func pattern<T>(_ json: HuggingFaceConfig, _ key: String, _ value: (Any) -> T?) throws -> [String: (regex: NSRegularExpression, value: T)] {
        guard let object = json.json[key], !(object is NSNull) else { return [:] }
        guard let dict = object as? [String: Any] else { throw FormatError(json.path, "\(key) is not an object") }
        var patterns: [String: (regex: NSRegularExpression, value: T)] = [:]
        for (k, v) in dict {
            guard let t = value(v) else { throw FormatError(json.path, "\(key) has a value \(v) of the wrong type") }
            patterns[k] = (try AdapterInputChecks.patternRegex(k, in: json.path, field: key), t)
        }
        return patterns
    }

    /// PEFT's `get_pattern_key`: a key equal to the module name, else one that matches it as
    /// `(.*\.)?(key)$`; where several match, the longest key (PEFT takes the first in file order,
    /// which JSON objects here do not keep).
    static func match<T>(_ pattern: [String: (regex: NSRegularExpression, value: T)], _ module: String) -> T? {
        if let exact = pattern[module] { return exact.value }
        let range = NSRange(module.startIndex..., in: module)
        let hits = pattern.filter { $0.value.regex.firstMatch(in: module, range: range) != nil }.keys
        return hits.max { ($0.count, $1) < ($1.count, $0) }.map { pattern[$0]!.value }
    }

    /// A native adapter folder (`adapters.safetensors`), a PEFT folder (`adapter_model.safetensors`)
    /// or llama.cpp's LoRA adapter GGUF file; `weights`: the base's, for methods built from their
    /// site's frozen W.
    public static func load(from folder: String, model: ModelConfig, weights: ModelWeights? = nil) throws -> Adapters {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
            return try importLlamaCppGGUF(path: folder, model: model)
        }
        if fm.fileExists(atPath: (folder as NSString).appendingPathComponent(AdapterFile.weightsName)) {
            return try AdapterFile.load(from: folder, model: model, weights: weights)
        }
        if fm.fileExists(atPath: (folder as NSString).appendingPathComponent(PEFT.weightsName)) {
            return try importPEFT(folder: folder, model: model, weights: weights)
        }
        throw FormatError(folder, "is not an adapter folder: expected \(AdapterFile.weightsName) (effilora) or \(PEFT.weightsName) (PEFT), with \(AdapterFile.configName)")
    }
}

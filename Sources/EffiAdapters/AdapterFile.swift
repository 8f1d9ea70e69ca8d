import EffiCore
import EffiFormats
import EffiModel
import Foundation

/// The native adapter format: a folder with `adapter_config.json` (the method's options and the
/// model's shape) and `adapters.safetensors` holding exactly the learned parameters — the shared
/// A once, the B's, routers, VeRA vectors; seeded frozen matrices are rebuilt from the seed.
public enum AdapterFile {
    public static let configName = "adapter_config.json", weightsName = "adapters.safetensors"

    struct Header: Codable {
        static let currentFormat = "effilora-adapter", currentVersion = 1
        var format = currentFormat
        var version = currentVersion
        var adapter: AdapterConfig
        var model: ModelShape
        var parameters: [String: Int]
        /// FNV-1a of the bits of the parameters rebuilt from the seed (LoRA-FA's A, VeRA's A and B):
        /// a platform whose random draws differ is detected on load.
        var regeneratedChecksum: UInt64?
        /// The Reducer's outcome: each layer's mode, and its last importance scores.
        var layerModes: [LayerMode]?
        var layerScores: [Double?]?
        /// The Q/K row order of the model it was trained on ("adjacentPairs": a GGUF llama file;
        /// "rotateHalf": a Hugging Face folder or a qwen2 GGUF). Absent in files written before it
        /// was recorded; those are taken to match the model they are loaded onto.
        var ropeLayout: String?
    }

    static func regeneratedChecksum(_ adapters: Adapters) -> UInt64? {
        let frozen = adapters.parameters.filter(\.regenerable)
        guard !frozen.isEmpty else { return nil }
        var hash = FNV1a()
        for p in frozen { for i in 0..<p.value.count { hash.add(p.value[i].bitPattern) } }
        return hash.value
    }

    struct ModelShape: Codable, Equatable {
        var architecture: String, layers: Int, modelWidth: Int, ffnWidth: Int, heads: Int, kvHeads: Int, vocabulary: Int
        init(_ c: ModelConfig) {
            architecture = c.architecture; layers = c.layers; modelWidth = c.modelWidth; ffnWidth = c.ffnWidth
            heads = c.heads; kvHeads = c.kvHeads; vocabulary = c.vocabulary
        }
    }

    /// Writes the folder (each file to a temporary name, then renamed into place).
    public static func save(_ adapters: Adapters, to folder: String, layerScores: [Double?]? = nil) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let stored = adapters.liveParameters.filter { !$0.regenerable }
        var writer = SafetensorsWriter(metadata: ["format": "effilora-adapter"])
        for p in stored { writer.add(p.name, p.value, as: .f32) }
        try writer.write(to: (folder as NSString).appendingPathComponent(weightsName))
        let header = Header(adapter: adapters.config, model: ModelShape(adapters.modelConfig),
                            parameters: ["stored": stored.reduce(0) { $0 + $1.value.count },
                                         "trainable": adapters.parameters.filter(\.trainable).reduce(0) { $0 + $1.value.count }],
                            regeneratedChecksum: regeneratedChecksum(adapters),
                            layerModes: adapters.layerModes.contains { $0 != .active } ? adapters.layerModes : nil,
                            layerScores: layerScores, ropeLayout: adapters.modelConfig.ropeLayout.rawValue)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(header), to: (folder as NSString).appendingPathComponent(configName))
    }

    static func header(_ folder: String) throws -> Header {
        let path = (folder as NSString).appendingPathComponent(configName)
        let header = try decodeJSONFile(Header.self, path, as: "an effilora adapter config")
        guard header.format == Header.currentFormat, header.version == Header.currentVersion else {
            throw FormatError(path, "format \"\(header.format.prefix(80))\" version \(header.version): expected \"\(Header.currentFormat)\" version \(Header.currentVersion)")
        }
        return header
    }

    static func layout(_ header: Header, _ configPath: String) throws -> RoPELayout? {
        guard let raw = header.ropeLayout else { return nil }
        guard let layout = RoPELayout(rawValue: raw) else { throw FormatError(configPath, "ropeLayout \(raw) is neither adjacentPairs nor rotateHalf") }
        return layout
    }

    /// The Reducer's last layer scores recorded with the adapter (nil when it was trained without).
    public static func layerScores(of folder: String) throws -> [Double?]? { try header(folder).layerScores }

    /// The shape of the model an adapter folder was trained on, from its config alone (the
    /// adapter's own arithmetic needs nothing else); nil when the file does not record its Q/K
    /// row order, which only the base model can then tell.
    public static func trainedModel(of folder: String) throws -> ModelConfig? {
        let h = try header(folder)
        guard let layout = try layout(h, (folder as NSString).appendingPathComponent(configName)) else { return nil }
        let m = h.model
        return ModelConfig(architecture: m.architecture, layers: m.layers, modelWidth: m.modelWidth, ffnWidth: m.ffnWidth, heads: m.heads,
                           kvHeads: m.kvHeads, vocabulary: m.vocabulary, ropeLayout: layout)
    }

    /// Reads a folder written by `save` for a model of the same shape (`weights`: the base's, for
    /// methods built from their site's frozen W). An adapter trained on the other Q/K row order (a
    /// GGUF llama model vs its Hugging Face folder) has its q/k rows moved to this model's order,
    /// so it means the same thing.
    public static func load(from folder: String, model: ModelConfig, weights: ModelWeights? = nil) throws -> Adapters {
        let header = try checkedHeader(folder, model: model)
        let adapters = try Adapters(config: header.adapter, model: model, weights: weights)
        try read(folder, header, into: adapters)
        return adapters
    }

    /// Reads a folder written by `save` into adapters built with the same options (a checkpoint
    /// into its run's adapters): layer modes and every stored tensor.
    public static func restore(from folder: String, into adapters: Adapters) throws {
        let header = try checkedHeader(folder, model: adapters.modelConfig)
        guard header.adapter == adapters.config else {
            throw FormatError((folder as NSString).appendingPathComponent(configName), "was written for other adapter options than this run's")
        }
        try read(folder, header, into: adapters)
    }

    private static func checkedHeader(_ folder: String, model: ModelConfig) throws -> Header {
        let header = try header(folder)
        guard header.model == ModelShape(model) else {
            throw FormatError((folder as NSString).appendingPathComponent(configName), "was trained for a \(header.model) model, not this \(ModelShape(model)) one")
        }
        return header
    }

    private static func read(_ folder: String, _ header: Header, into adapters: Adapters) throws {
        let configPath = (folder as NSString).appendingPathComponent(configName), model = adapters.modelConfig
        guard header.regeneratedChecksum == regeneratedChecksum(adapters) else {
            throw FormatError(configPath, "the frozen matrices rebuilt from the seed differ from the ones it was trained with (another platform's random draws?)")
        }
        if let modes = header.layerModes {
            guard modes.count == model.layers else { throw FormatError(configPath, "layerModes has \(modes.count) entries for \(model.layers) layers") }
            for (layer, mode) in modes.enumerated() { adapters.setMode(mode, layer: layer) }
        }
        let weightsPath = (folder as NSString).appendingPathComponent(weightsName)
        let file = try SafetensorsFile(path: weightsPath)
        var unused = Set(file.names)
        for p in adapters.liveParameters where !p.regenerable {
            guard let info = file.info(p.name) else { throw FormatError(weightsPath, "tensor \(p.name) is missing") }
            guard info.shape == p.value.shape else { throw FormatError(weightsPath, "tensor \(p.name) has shape \(info.shape), expected \(p.value.shape)") }
            try file.readFloats(p.name, into: p.value.data, count: p.value.count)
            try AdapterInputChecks.requireFinite(p.value, tensor: p.name, in: weightsPath)
            unused.remove(p.name)
        }
        if let extra = unused.sorted().first { throw FormatError(weightsPath, "tensor \(extra) is not a parameter of this adapter") }
        if let trained = try layout(header, configPath) { try adapters.reorderQKRows(from: trained, to: model.ropeLayout) }
    }
}

/// Writes `data` to a temporary file beside `path` and renames it into place.
public func writeAtomically(_ data: Data, to path: String) throws {
    let temporary = path + ".partial-\(getpid())"
    guard FileManager.default.createFile(atPath: temporary, contents: data) else { throw FormatError(temporary, "cannot be written") }
    guard rename(temporary, path) == 0 else { throw FormatError(path, "cannot be replaced (errno \(errno))") }
}

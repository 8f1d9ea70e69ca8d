import EffiCore
import EffiFormats
import EffiTokenizer
import Foundation

/// A decoder with its tokenizer, loaded from a GGUF file or a Hugging Face folder.
public struct LanguageModel {
    public let decoder: Decoder
    public let tokenizer: Tokenizer
    public let path: String
    /// The ids that end a reply (see `stopTokens(tokenizer:extra:)`).
    public let stopTokens: Set<Int32>

    public init(decoder: Decoder, tokenizer: Tokenizer, path: String, extraStopTokens: [Int32] = []) throws {
        guard tokenizer.count <= decoder.config.vocabulary else {
            throw FormatError(path, "the tokenizer has \(tokenizer.count) tokens but the model only \(decoder.config.vocabulary) embedding rows")
        }
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.path = path
        stopTokens = Self.stopTokens(tokenizer: tokenizer, extra: extraStopTokens)
    }

    /// `path`: a `.gguf` file, or a folder with `config.json`, safetensors weights and
    /// `tokenizer.json`; the linear weights multiplied in `precision`, held as `storage` says.
    public static func load(_ path: String, precision: ComputePrecision = .float32, storage: BaseStorage = .dense) throws -> LanguageModel {
        if try isFolder(path) {
            let decoder = try Decoder(huggingFace: path, precision: precision)
            return try LanguageModel(decoder: decoder, tokenizer: try tokenizer(path), path: path,
                                     extraStopTokens: try generationConfigStopTokens(path, vocabulary: decoder.config.vocabulary))
        }
        // One parse of the GGUF header for both the weights and the tokenizer.
        let gguf = try GGUFFile(path: path)
        return try LanguageModel(decoder: try Decoder(gguf: gguf, precision: precision, storage: storage), tokenizer: try Tokenizer(gguf: gguf), path: path)
    }

    /// Only the decoder, from a GGUF file or a Hugging Face folder.
    public static func decoder(_ path: String, precision: ComputePrecision = .float32, storage: BaseStorage = .dense) throws -> Decoder {
        try isFolder(path) ? try Decoder(huggingFace: path, precision: precision) : try Decoder(gguf: path, precision: precision, storage: storage)
    }

    /// Only the configuration (no weights are read).
    public static func decoderConfig(_ path: String) throws -> ModelConfig {
        try isFolder(path) ? try ModelConfig(huggingFace: HuggingFaceFolder(path: path)) : try ModelConfig(gguf: GGUFFile(path: path))
    }

    /// Only the tokenizer: from a GGUF file's metadata, a folder's `tokenizer.json`, or a `tokenizer.json` itself.
    public static func tokenizer(_ path: String) throws -> Tokenizer {
        if try isFolder(path) { return try Tokenizer(tokenizerJSON: (path as NSString).appendingPathComponent("tokenizer.json")) }
        if path.hasSuffix(".json") { return try Tokenizer(tokenizerJSON: path) }
        return try Tokenizer(gguf: GGUFFile(path: path))
    }

    public static func isFolder(_ path: String) throws -> Bool {
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &folder) else {
            throw FormatError(path, "no such file or folder")
        }
        return folder.boolValue
    }

    /// The model's chat template (ChatML), or an error naming the model.
    public func chatTemplate() throws -> ChatTemplate {
        try ChatTemplate(source: tokenizer.chatTemplateSource, origin: path)
    }

    /// EOS, end of turn, and the end-of-text / end-of-turn tokens of the families this tool reads.
    static func stopTokens(tokenizer: Tokenizer, extra: [Int32]) -> Set<Int32> {
        var stops = Set([tokenizer.eosID, tokenizer.endOfTurnID].compactMap { $0} + extra)
        for name in [ChatTemplate.end, "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>"] {
            if let id = tokenizer.specialTokens[name] { stops.insert(id) }
        }
        return stops
    }

    /// `eos_token_id` of a folder's generation_config.json (an id or a list), when it has one.
    static func generationConfigStopTokens(_ folder: String, vocabulary: Int) throws -> [Int32] {
        let path = (folder as NSString).appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let ids: [Int]
        switch try readJSONObject(path)["eos_token_id"] {
        case nil, is NSNull: return []
        case let id as Int: ids = [id]
        case let list as [Int]: ids = list
        case let other: throw FormatError(path, "eos_token_id is \(JSONKind.describe(other)), expected an id or a list of ids")
        }
        // An id outside the vocabulary could never be generated: generation would not stop.
        if let bad = ids.first(where: { !(0..<vocabulary).contains($0) }) {
            throw FormatError(path, "eos_token_id \(bad) is outside the vocabulary of \(vocabulary) tokens")
        }
        return ids.map(Int32.init)
    }
}

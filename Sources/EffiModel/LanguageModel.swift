import EffiFormats
import EffiTokenizer
import Foundation

/// A decoder with its tokenizer, loaded from a GGUF file or a Hugging Face folder.
public struct LanguageModel {
    public let decoder: Decoder
    public let tokenizer: Tokenizer
    public let path: String

    public init(decoder: Decoder, tokenizer: Tokenizer, path: String) {
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.path = path
    }

    /// `path`: a `.gguf` file, or a folder with `config.json`, safetensors weights and `tokenizer.json`.
    public static func load(_ path: String) throws -> LanguageModel {
        LanguageModel(decoder: try decoder(path), tokenizer: try tokenizer(path), path: path)
    }

    /// Only the decoder, from a GGUF file or a Hugging Face folder.
    public static func decoder(_ path: String) throws -> Decoder {
        try isFolder(path) ? try Decoder(huggingFace: path) : try Decoder(gguf: path)
    }

    /// Only the tokenizer: from a GGUF file's metadata, a folder's `tokenizer.json`, or a `tokenizer.json` itself.
    public static func tokenizer(_ path: String) throws -> Tokenizer {
        if try isFolder(path) { return try Tokenizer(tokenizerJSON: (path as NSString).appendingPathComponent("tokenizer.json")) }
        if path.hasSuffix(".json") { return try Tokenizer(tokenizerJSON: path) }
        return try Tokenizer(gguf: GGUFFile(path: path))
    }

    private static func isFolder(_ path: String) throws -> Bool {
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
}

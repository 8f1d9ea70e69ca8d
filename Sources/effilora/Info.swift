import ArgumentParser
import EffiFormats
import EffiModel
import Foundation

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model file: architecture, sizes, tensor types, parameter count.")

    @Option(help: "A GGUF file or a Hugging Face folder.")
    var model: String

    @Flag(help: "Also list every metadata entry and every tensor.")
    var verbose = false

    func run() throws {
        if try LanguageModel.isFolder(model) { return try describeFolder() }
        let gguf = try GGUFFile(path: model)
        let arch = gguf.architecture ?? "(none)"
        print("file: \(model) (GGUF v\(gguf.version), \(gguf.fileSize) bytes)")
        print("architecture: \(arch)")
        if let name = gguf.metadata["general.name"]?.string { print("name: \(name)") }
        for (label, key) in [("layers", "block_count"), ("model width", "embedding_length"),
                             ("FFN width", "feed_forward_length"), ("heads", "attention.head_count"),
                             ("KV heads", "attention.head_count_kv"), ("context", "context_length"),
                             ("RoPE base", "rope.freq_base"), ("RMSNorm eps", "attention.layer_norm_rms_epsilon")] {
            if let v = gguf.architectureValue(key) { print("\(label): \(v.summary)") }
        }
        if let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array {
            let model = gguf.metadata["tokenizer.ggml.model"]?.string ?? "?"
            let pre = gguf.metadata["tokenizer.ggml.pre"]?.string ?? "?"
            print("vocabulary: \(tokens.count) tokens (\(model), pre-tokenizer \(pre))")
        }
        let parameters = gguf.tensors.reduce(0) { $0 + $1.elementCount }
        print("tensors: \(gguf.tensors.count), parameters: \(parameters) (\(String(format: "%.1f", Double(parameters) / 1e6)) M)")
        var byType: [String: (count: Int, elements: Int)] = [:]
        for t in gguf.tensors { byType[t.type.name, default: (0, 0)].count += 1; byType[t.type.name]!.elements += t.elementCount }
        for (type, v) in byType.sorted(by: { $0.key < $1.key }) {
            print("  \(type): \(v.count) tensors, \(v.elements) parameters")
        }
        if verbose {
            print("metadata:")
            for key in gguf.metadataKeys { print("  \(key) = \(gguf.metadata[key]!.summary)") }
            print("tensors:")
            for t in gguf.tensors { print("  \(t.name) \(t.type.name) \(t.shape)") }
        }
    }

    private func describeFolder() throws {
        let folder = try HuggingFaceFolder(path: model)
        let c = try ModelConfig(huggingFace: folder)
        print("folder: \(model) (Hugging Face, \(folder.files.count) safetensors file\(folder.files.count == 1 ? "" : "s"))")
        print("architecture: \(c.architecture) (\((try? folder.config.strings("architectures"))?.joined(separator: ", ") ?? "?"))")
        print("layers: \(c.layers)\nmodel width: \(c.modelWidth)\nFFN width: \(c.ffnWidth)\nheads: \(c.heads)\nKV heads: \(c.kvHeads)")
        print("context: \(c.contextLength)\nRoPE base: \(c.ropeBase)\nRMSNorm eps: \(c.normEpsilon)\ntied output: \(c.tiedOutput)")
        print("vocabulary: \(c.vocabulary) tokens")
        let tensors = folder.names.compactMap { folder.tensor($0)?.info }
        let parameters = tensors.reduce(0) { $0 + $1.elementCount }
        print("tensors: \(tensors.count), parameters: \(parameters) (\(String(format: "%.1f", Double(parameters) / 1e6)) M)")
        var byType: [String: (count: Int, elements: Int)] = [:]
        for t in tensors { byType[t.dtype.rawValue, default: (0, 0)].count += 1; byType[t.dtype.rawValue]!.elements += t.elementCount }
        for (type, v) in byType.sorted(by: { $0.key < $1.key }) { print("  \(type): \(v.count) tensors, \(v.elements) parameters") }
        if verbose {
            print("tensors:")
            for t in tensors { print("  \(t.name) \(t.dtype.rawValue) \(t.shape)") }
        }
    }
}

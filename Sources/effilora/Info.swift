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
        print(weightMemory(gguf))
        if verbose {
            print("metadata:")
            for key in gguf.metadataKeys { print("  \(key) = \(gguf.metadata[key]!.summary)") }
            print("tensors:")
            for t in gguf.tensors { print("  \(t.name) \(t.type.name) \(t.shape)") }
        }
        // The listing shows the file as it is; whether its decoder configuration is loadable is
        // checked last, so a damaged model is both shown and refused (nonzero exit). A llama.cpp
        // adapter file has no decoder to check.
        if gguf.metadata["general.type"]?.string != "adapter" { _ = try ModelConfig(gguf: gguf) }
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

    /// What the weights occupy once loaded, for each --base-storage and --compute-dtype: blocks
    /// stay as in the file when quantized; everything else is Float32 (norms, biases, a dense
    /// embedding) or the compute precision (linear weights; a tied bf16 head is a rounded copy).
    private func weightMemory(_ gguf: GGUFFile) -> String {
        let tied = gguf.tensor("output.weight") == nil
        func bytes(quantized: Bool, bf16: Bool) -> Int {
            var total = 0
            for t in gguf.tensors {
                let kept = quantized && t.type.blockSize > 1, matrix = t.dimensions.count == 2
                let isEmbedding = t.name == "token_embd.weight"
                if kept { total += t.byteCount } else { total += t.elementCount * (matrix && bf16 && !isEmbedding ? 2 : 4) }
                // a dense bf16 model multiplies by a rounded copy of a tied embedding
                if isEmbedding && tied && bf16 && !kept { total += t.elementCount * 2 }
            }
            return total
        }
        func mib(_ b: Int) -> String { String(format: "%.0f MiB", Double(b) / 1_048_576) }
        return "weights in memory: quantized \(mib(bytes(quantized: true, bf16: false))) (f32 compute) / \(mib(bytes(quantized: true, bf16: true))) (bf16); "
            + "dense f32 \(mib(bytes(quantized: false, bf16: false))), dense bf16 \(mib(bytes(quantized: false, bf16: true)))"
    }
}

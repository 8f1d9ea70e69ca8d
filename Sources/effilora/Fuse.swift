import ArgumentParser
import EffiAdapters
import EffiFormats
import EffiModel

struct Fuse: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold adapters into the base weights (s·B·A added; DoRA's rows rescaled) and write a Hugging Face folder or a GGUF file.",
        discussion: "Without --adapter it converts the base alone (e.g. a GGUF file into a Hugging Face folder). Several --adapter add their updates (additive adapters only).")

    @Option(help: "The base model: a GGUF file or a Hugging Face folder.")
    var model: String

    @OptionGroup var adapters: AdapterChoice

    @Option(help: "The folder (hf) or file (gguf) to write.")
    var out: String

    @Option(help: "hf (config.json, model.safetensors, tokenizer files) or gguf (v3, the source's metadata and tokenizer).")
    var format = "hf"

    @Option(help: "f32, f16 or bf16; with --format gguf also q8_0 (8-bit blocks, as llama.cpp's quantizer writes them).")
    var dtype = "f32"

    func run() throws {
        guard ["hf", "gguf"].contains(format) else { throw ValidationError("--format \(format): expected hf or gguf") }
        guard ["f32", "f16", "bf16"].contains(dtype) || (dtype == "q8_0" && format == "gguf") else {
            throw ValidationError("--dtype \(dtype): expected f32, f16 or bf16" + (format == "gguf" ? ", or q8_0" : " (q8_0 only with --format gguf)"))
        }
        for input in [model] + adapters.paths { try OutputFolder.refuseOverlap(output: out, input: input) }
        let lm = try LanguageModel.load(model)
        switch try adapters.adapter(for: lm) {
        case let one as Adapters: try one.fuse(into: lm.decoder.weights)
        case let stack as StackedLoRA: try stack.fuse(into: lm.decoder.weights)
        default: break
        }
        if format == "hf" {
            try OutputFolder.replace(out, marker: "config.json") { try ModelWriter.writeHuggingFace(lm, to: $0, dtype: ["f32": .f32, "f16": .f16, "bf16": .bf16][dtype]!) }
        } else {
            try ModelWriter.writeGGUF(lm, to: out, type: ["f32": .f32, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0][dtype]!)
        }
        print("wrote \(out) (\(format), \(dtype))\(adapters.paths.isEmpty ? "" : " with \(adapters.paths.joined(separator: " + ")) fused in")")
    }
}

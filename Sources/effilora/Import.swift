import ArgumentParser
import EffiAdapters
import EffiFormats
import EffiModel
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a Hugging Face PEFT folder (LoRA, DoRA, Lily) into an effilora adapter for a base model.",
        discussion: "--adapter in generate, score, eval and fuse also takes a PEFT folder directly.")

    @Option(help: "A PEFT LoRA (with or without use_dora) or Lily folder (adapter_config.json + adapter_model.safetensors).")
    var peft: String

    @Option(help: "The base model (a GGUF file or a Hugging Face folder): its shape, and its Q/K row order. Default: the PEFT config's base_model_name_or_path when that is a local path.")
    var model: String?

    @Option(help: "The effilora adapter folder to write.")
    var out: String

    func run() throws {
        let configPath = (peft as NSString).appendingPathComponent(PEFT.configName)
        guard let base = try model ?? (HuggingFaceConfig(path: configPath).json["base_model_name_or_path"] as? String)
            .flatMap({ FileManager.default.fileExists(atPath: $0) ? $0 : nil }) else {
            throw FormatError(configPath, "base_model_name_or_path is not a local model; pass --model with the base (a GGUF file or a Hugging Face folder)")
        }
        for input in [peft, base] { try OutputFolder.refuseOverlap(output: out, input: input) }
        let adapters = try Adapters.importPEFT(folder: peft, model: try LanguageModel.decoderConfig(base))
        // Written whole or not at all: a failure leaves an existing folder as it was.
        try OutputFolder.replace(out, marker: AdapterFile.configName) { try AdapterFile.save(adapters, to: $0) }
        let c = adapters.config
        let options = c.lily.map { "stride_A \($0.strideA), num_B \($0.numB), scaling \($0.scaling)" }
            ?? "alpha \(c.alpha)\(c.rslora ? " (rsLoRA)" : "")"
        print("wrote \(out): \(c.method.rawValue) r \(c.rank), \(options), \(c.targets.map(\.rawValue).joined(separator: " ")), \(c.adaptedLayers(of: adapters.modelConfig).count) layers")
    }
}

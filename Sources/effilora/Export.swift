import ArgumentParser
import EffiAdapters
import EffiCore
import EffiFormats
import EffiModel
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an adapter as a Hugging Face PEFT folder (adapter_config.json + adapter_model.safetensors).",
        discussion: """
        LoRA-like methods become a PEFT LoRA: EffiLoRA's shared A is written out per site, VeRA is folded into \
        per-site A and B, DoRA adds its magnitudes (use_dora). Lily becomes PEFT's Lily. The Reducer's dropped \
        layers are left out, and q/k rows trained on a GGUF llama model are put in Hugging Face order. Adapters \
        with several B experts and a router (effilora, hydralora) have no PEFT form and are refused.
        """)

    @Option(help: "An effilora adapter folder.")
    var adapter: String

    @Option(help: "Output format: peft (a folder) or gguf (llama.cpp's LoRA adapter file, for --lora).")
    var format = "peft"

    @Option(help: "gguf: the tensors' type (f32, f16, bf16, q8_0).")
    var dtype = "f32"

    @Option(help: "The folder to write.")
    var out: String

    @Option(help: "base_model_name_or_path in adapter_config.json (e.g. HuggingFaceTB/SmolLM2-135M-Instruct).")
    var baseName: String?

    @Option(help: "The base model the adapter was trained on; needed only for adapters that do not record their Q/K row order.")
    var model: String?

    func run() throws {
        guard ["peft", "gguf"].contains(format) else { throw ValidationError("--format \(format): peft or gguf") }
        for input in [adapter] + (model.map { [$0] } ?? []) { try OutputFolder.refuseOverlap(output: out, input: input) }
        let config: ModelConfig
        if let model {
            config = try LanguageModel.decoderConfig(model)
        } else if let recorded = try AdapterFile.trainedModel(of: adapter) {
            config = recorded
        } else {
            throw FormatError((adapter as NSString).appendingPathComponent(AdapterFile.configName),
                              "does not record the Q/K row order of the model it was trained on (written by an older effilora); pass --model with that base model")
        }
        let adapters = try AdapterFile.load(from: adapter, model: config)
        if format == "gguf" {
            guard let type = ["f32": GGMLType.f32, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0][dtype] else {
                throw ValidationError("--dtype \(dtype): f32, f16, bf16 or q8_0")
            }
            try adapters.exportLlamaCppGGUF(to: out, dtype: type)
            print("wrote \(out): llama.cpp LoRA adapter, r \(adapters.config.rank), \(try adapters.loraFactors().count) modules, \(dtype); use it with llama.cpp's --lora on a GGUF \(config.architecture) base")
            return
        }
        try OutputFolder.replace(out, marker: PEFT.configName) { try adapters.exportPEFT(to: $0, baseModel: baseName ?? model ?? "") }
        let written = try SafetensorsFile(path: (out as NSString).appendingPathComponent(PEFT.weightsName))
        let count = try written.names.reduce(0) { $0 + (try written.info($1).map { $0.shape.reduce(1, *) } ?? 0) }
        let kind = adapters.config.method == .lily ? "Lily" : adapters.config.method == .dora ? "LoRA with DoRA" : "LoRA"
        print("wrote \(out): PEFT \(kind) r \(adapters.config.rank), \(written.names.count) tensors, \(count) values")
    }
}

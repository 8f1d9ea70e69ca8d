import ArgumentParser
import EffiAdapters
import EffiModel

struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count an adapter's parameters on a model: trainable, shared, per-layer, frozen, ratio to LoRA.")

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @OptionGroup var adapter: AdapterOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let config = try LanguageModel.decoderConfig(model)
        let c = try adapter.config(for: config)
        let report = ParameterReport(adapters: try Adapters(config: c, model: config), base: config)
        if json { try printJSON(report) } else { print(report.text) }
    }
}

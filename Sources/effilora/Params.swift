import ArgumentParser
import EffiAdapters
import EffiModel

struct Params: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count an adapter's parameters on a model: trainable, shared, per-layer, frozen, ratio to LoRA.")

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @Option(help: "lora | effilora | lora-fa | vera | hydralora.") var method = AdapterConfig.Method.effilora
    @Option(help: "Adapter rank r.") var rank = 8
    @Option(parsing: .upToNextOption, help: "Sites: q k v o gate up down, their _proj names, or all.") var targets = ["all"]
    @Option(help: "Layers: all, last N, a-b, or a comma list.") var layers = "all"
    @Option(help: "EffiLoRA's A sharing: input | type | none.") var share = AdapterConfig.Share.input
    @Option(help: "B experts per site (effilora, hydralora).") var experts = 1
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let config = try LanguageModel.decoderConfig(model)
        var c = AdapterConfig()
        c.method = method; c.rank = rank; c.share = share; c.experts = experts
        c.targets = try AdapterConfig.parseTargets(targets)
        c.layers = try AdapterConfig.parseLayers(layers, count: config.layers)
        let report = ParameterReport(adapters: try Adapters(config: c, model: config), base: config)
        if json { try printJSON(report) } else { print(report.text) }
    }
}

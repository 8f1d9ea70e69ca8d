import ArgumentParser
import EffiAdapters
import EffiModel

/// `--adapter` (repeatable) and `--adapter-scale`, for the commands that run a model with adapters.
struct AdapterChoice: ParsableArguments {
    @Option(name: .customLong("adapter"), help: "An adapter: a folder written by train, a PEFT folder, or llama.cpp's adapter GGUF. Repeat it to stack several additive adapters (their updates added, as llama.cpp's --lora).")
    var paths: [String] = []

    @Option(help: "A factor on an --adapter's update; repeat it once per --adapter, in the same order (default 1 each).")
    var adapterScale: [Float] = []

    /// Exactly one adapter at scale 1, or none (a value built in code must be parsed: the property
    /// wrappers hold nothing until then).
    static func one(_ path: String?) throws -> AdapterChoice { try parse(path.map { ["--adapter", $0] } ?? []) }

    /// The adapter for `lm`: none, the one given (any method, at scale 1), or several stacked.
    func adapter(for lm: LanguageModel) throws -> DecoderAdapter? {
        guard !paths.isEmpty else {
            if !adapterScale.isEmpty { throw ValidationError("--adapter-scale without --adapter") }
            return nil
        }
        guard adapterScale.isEmpty || adapterScale.count == paths.count else {
            throw ValidationError("\(adapterScale.count) --adapter-scale values for \(paths.count) adapters: give one per --adapter")
        }
        let scales = adapterScale.isEmpty ? Array(repeating: Float(1), count: paths.count) : adapterScale
        let loaded = try paths.map { path in
            do { return try Adapters.load(from: path, model: lm.decoder.config, weights: lm.decoder.weights) } catch {
                throw ValidationError("--adapter \(path): \(error)")
            }
        }
        if loaded.count == 1 && scales[0] == 1 { return loaded[0] }
        return try StackedLoRA(zip(zip(paths, loaded), scales).map { ($0.0, $0.1, $1) })
    }
}

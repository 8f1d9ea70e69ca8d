import EffiAdapters
import EffiModel

/// A model with an optional adapter (an effilora adapter folder or a PEFT LoRA folder) applied at
/// its linear sites.
func loadModel(_ path: String, adapter: String?) throws -> LanguageModel {
    let lm = try LanguageModel.load(path)
    if let adapter { lm.decoder.adapter = try Adapters.load(from: adapter, model: lm.decoder.config, weights: lm.decoder.weights) }
    return lm
}

import EffiAdapters
import EffiModel

/// A model with an optional trained adapter applied at its linear sites.
func loadModel(_ path: String, adapter: String?) throws -> LanguageModel {
    let lm = try LanguageModel.load(path)
    if let adapter { lm.decoder.adapter = try AdapterFile.load(from: adapter, model: lm.decoder.config) }
    return lm
}

import EffiAdapters
import EffiCore
import EffiModel
import Foundation

/// A model in the compute precision and base storage `precision` asks for, with an optional adapter (an effilora
/// adapter folder or a PEFT LoRA folder) applied at its linear sites; says on stderr which
/// precision and product kernels run and how the base is held.
func loadModel(_ path: String, adapter: String?, precision: PrecisionOptions) throws -> LanguageModel {
    let lm = try precision.load(path)
    FileHandle.standardError.write(Data((lm.decoder.weights.precision.summary + "\n" + lm.decoder.weights.storageSummary + "\n").utf8))
    if let adapter { lm.decoder.adapter = try Adapters.load(from: adapter, model: lm.decoder.config, weights: lm.decoder.weights) }
    return lm
}

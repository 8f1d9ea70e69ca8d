import EffiAdapters
import EffiCore
import EffiModel
import Foundation

/// A model in the compute precision `precision` asks for, with an optional adapter (an effilora
/// adapter folder or a PEFT LoRA folder) applied at its linear sites; says on stderr which
/// precision and product kernels run.
func loadModel(_ path: String, adapter: String?, precision: PrecisionOptions) throws -> LanguageModel {
    let resolved = try precision.resolved()
    let lm = try LanguageModel.load(path, precision: resolved)
    FileHandle.standardError.write(Data((resolved.summary + "\n").utf8))
    if let adapter { lm.decoder.adapter = try Adapters.load(from: adapter, model: lm.decoder.config, weights: lm.decoder.weights) }
    return lm
}

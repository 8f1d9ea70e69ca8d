import EffiAdapters
import EffiCore
import EffiModel
import Foundation

/// A model in the compute precision and base storage `precision` asks for, with the adapters
/// chosen (none, one of any kind, or several additive ones stacked) applied at its linear sites;
/// says on stderr which precision and product kernels run and how the base is held.
func loadModel(_ path: String, adapters: AdapterChoice, precision: PrecisionOptions) throws -> LanguageModel {
    let lm = try precision.load(path)
    FileHandle.standardError.write(Data((lm.decoder.weights.precision.summary + "\n" + lm.decoder.weights.storageSummary + "\n").utf8))
    lm.decoder.adapter = try adapters.adapter(for: lm)
    return lm
}

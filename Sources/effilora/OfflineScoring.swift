import EffiAdapters
import EffiModel
import EffiTrain

/// The Reducer's scoring of a trained adapter's layers outside training (`importance`, `analyze`):
/// the scoring batch is the first `examples` examples of a data file, the layers those adapted
/// and not dropped. The model's inference adapter is cleared (the pass takes the adapter itself).
struct OfflineScoring {
    let reducer: Reducer
    let layers: [Int]
    let pass: TrainingPass

    init(model lm: LanguageModel, adapters: Adapters, data: String, examples: Int) throws {
        lm.decoder.adapter = nil
        let dataset = try Dataset(path: data, tokenizer: lm.tokenizer, chatTemplate: try? lm.chatTemplate(), options: .init())
        let picked = Array(dataset.examples.prefix(examples))
        let batch = Batcher(examples: picked, batchSize: picked.count, seed: 0).makeBatch(Array(picked.indices))
        layers = adapters.adaptedLayers.filter { adapters.layerModes[$0] != .dropped }
        reducer = Reducer(options: ReducerOptions(), adapters: adapters, scoringBatch: batch, seed: 0)
        pass = TrainingPass(decoder: lm.decoder)
    }
}

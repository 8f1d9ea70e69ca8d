import EffiCore
import EffiFormats

extension Decoder {
    /// The decoder of a Hugging Face model folder (config.json and model.safetensors, or shards
    /// with model.safetensors.index.json).
    public convenience init(huggingFace path: String, precision: ComputePrecision = .float32) throws {
        let folder = try HuggingFaceFolder(path: path)
        let config = try ModelConfig(huggingFace: folder)
        self.init(config: config, weights: try ModelWeights(huggingFace: folder, config: config, precision: precision))
    }
}

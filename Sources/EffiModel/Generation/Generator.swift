import EffiCore
import EffiFormats
import EffiTokenizer

/// Text generation with a KV cache: the prompt is fed in one pass, then one token per step until
/// a stop token, the token limit, or the end of the model's context.
public struct Generator {
    public let model: LanguageModel

    public enum FinishReason: String, Sendable {
        /// A stop token (not included in the output).
        case stop
        /// The token limit.
        case length
        /// The model's context is full.
        case context
    }

    public struct Result {
        public var tokens: [Int32] = []
        public var finishReason = FinishReason.length
        public var promptTokens = 0
        public var prefillSeconds = 0.0
        public var decodeSeconds = 0.0
    }

    public init(model: LanguageModel) { self.model = model }

    /// Generates after `prompt`; `onText` receives the text of each token as soon as it is complete.
    /// Throws when the prompt does not fit the context or the model produces non-finite logits.
    public func generate(prompt: [Int32], maxTokens: Int, sampler: inout Sampler,
                         onText: (String) -> Void = { _ in }) throws -> Result {
        let context = model.decoder.config.contextLength
        guard !prompt.isEmpty else { throw FormatError(model.path, "the prompt has no tokens") }
        guard prompt.count < context else {
            throw FormatError(model.path, "the prompt has \(prompt.count) tokens; the model's context holds \(context)")
        }
        var result = Result(promptTokens: prompt.count)
        let cache = KVCache(config: model.decoder.config, capacity: prompt.count + min(maxTokens, context - prompt.count))
        var stream = TextStream(tokenizer: model.tokenizer)
        // Rows past the tokenizer's vocabulary (padding rows of the embedding) are never sampled.
        let sampled = model.tokenizer.count
        var start = monotonicSeconds()
        var logits = model.decoder.logitsOfNext(tokens: prompt, cache: cache)
        result.prefillSeconds = monotonicSeconds() - start
        start = monotonicSeconds()
        while result.tokens.count < maxTokens {
            let row = UnsafeBufferPointer(start: logits.data, count: sampled)
            guard let next = sampler.next(row) else {
                throw FormatError(model.path, "the model produced non-finite logits after \(prompt.count + result.tokens.count) tokens")
            }
            if model.stopTokens.contains(next) { result.finishReason = .stop; break }
            result.tokens.append(next)
            onText(stream.append(next))
            guard result.tokens.count < maxTokens else { break }
            guard cache.count < cache.capacity else { result.finishReason = .context; break }
            logits = model.decoder.logitsOfNext(tokens: [next], cache: cache)
        }
        onText(stream.finish())
        result.decodeSeconds = monotonicSeconds() - start
        return result
    }
}

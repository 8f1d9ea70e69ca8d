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
        var stream = TextStream(tokenizer: model.tokenizer)
        var samplers = [sampler]
        defer { sampler = samplers[0] }
        let result = try generate(prompts: [prompt], maxTokens: maxTokens, samplers: &samplers) { _, token in onText(stream.append(token)) }
        onText(stream.finish())
        return result[0]
    }

    /// Generates after each of `prompts` together, row i drawing with `samplers[i]`: each prompt is
    /// fed alone into its own KV cache, then every unfinished row advances one token per step in
    /// one pass over all of them (the linear layers read their weights once for the batch), and a
    /// finished row leaves the batch. `onToken(row, token)` sees each token as it is chosen.
    public func generate(prompts: [[Int32]], maxTokens: Int, samplers: inout [Sampler],
                         onToken: (Int, Int32) -> Void = { _, _ in }) throws -> [Result] {
        precondition(samplers.count == prompts.count, "one sampler per prompt")
        let context = model.decoder.config.contextLength
        var results: [Result] = [], caches: [KVCache] = [], logits: [Tensor] = []
        for prompt in prompts {
            guard !prompt.isEmpty else { throw FormatError(model.path, "the prompt has no tokens") }
            guard prompt.count < context else {
                throw FormatError(model.path, "the prompt has \(prompt.count) tokens; the model's context holds \(context)")
            }
            let cache = KVCache(config: model.decoder.config, capacity: prompt.count + min(maxTokens, context - prompt.count))
            let start = monotonicSeconds()
            logits.append(model.decoder.logitsOfNext(tokens: prompt, cache: cache))
            results.append(Result(promptTokens: prompt.count, prefillSeconds: monotonicSeconds() - start))
            caches.append(cache)
        }
        // Rows past the tokenizer's vocabulary (padding rows of the embedding) are never sampled.
        let sampled = model.tokenizer.count
        let start = monotonicSeconds()
        var active = maxTokens > 0 ? Array(prompts.indices) : []
        while !active.isEmpty {
            var fed: [Int] = [], tokens: [Int32] = []
            for i in active {
                guard let next = samplers[i].next(UnsafeBufferPointer(start: logits[i].data, count: sampled)) else {
                    throw FormatError(model.path, "the model produced non-finite logits after \(prompts[i].count + results[i].tokens.count) tokens")
                }
                if model.stopTokens.contains(next) {
                    results[i].finishReason = .stop
                } else {
                    results[i].tokens.append(next)
                    onToken(i, next)
                    if results[i].tokens.count == maxTokens {
                        results[i].finishReason = .length
                    } else if caches[i].count == caches[i].capacity {
                        results[i].finishReason = .context
                    } else {
                        fed.append(i); tokens.append(next)
                        continue
                    }
                }
                results[i].decodeSeconds = monotonicSeconds() - start
            }
            active = fed
            guard !fed.isEmpty else { break }
            let next = model.decoder.logitsOfNext(tokens: tokens, caches: fed.map { caches[$0] })
            for (row, i) in fed.enumerated() { logits[i] = next.rows(row..<row + 1) }
        }
        return results
    }
}

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
        let result = try generate(prompts: [prompt], maxTokens: maxTokens, samplers: &samplers, onToken: { _, token in onText(stream.append(token)) })
        onText(stream.finish())
        return result[0]
    }

    /// Generates after each of `prompts`, at most `width` of them at a time, row i drawing with
    /// `samplers[i]`: when the batch has room, the next prompt is fed alone into its own KV cache
    /// and joins it; every step advances each row of the batch by one token in one pass over all
    /// of them (the linear layers read their weights once per step for the whole batch); a row
    /// leaves at its stop token or limit and the next prompt takes its place. `onToken(i, token)`
    /// sees each token as it is chosen, `onFinish(i)` each prompt as it ends.
    public func generate(prompts: [[Int32]], maxTokens: Int, samplers: inout [Sampler], width: Int = .max,
                         onToken: (Int, Int32) -> Void = { _, _ in }, onFinish: (Int) -> Void = { _ in }) throws -> [Result] {
        precondition(samplers.count == prompts.count && width > 0, "one sampler per prompt, and room for one")
        let context = model.decoder.config.contextLength
        for prompt in prompts {
            guard !prompt.isEmpty else { throw FormatError(model.path, "the prompt has no tokens") }
            guard prompt.count < context else {
                throw FormatError(model.path, "the prompt has \(prompt.count) tokens; the model's context holds \(context)")
            }
        }
        var results = prompts.map { Result(promptTokens: $0.count) }
        guard maxTokens > 0 else { return results }
        // Rows past the tokenizer's vocabulary (padding rows of the embedding) are never sampled.
        let sampled = model.tokenizer.count
        var waiting = prompts.indices.makeIterator()
        var active: [Int] = [], caches: [Int: KVCache] = [:], logits: [Int: Tensor] = [:], decodeStart: [Int: Double] = [:]
        while true {
            while active.count < width, let i = waiting.next() {
                let cache = KVCache(config: model.decoder.config, capacity: prompts[i].count + min(maxTokens, context - prompts[i].count))
                let start = monotonicSeconds()
                logits[i] = model.decoder.logitsOfNext(tokens: prompts[i], cache: cache)
                results[i].prefillSeconds = monotonicSeconds() - start
                caches[i] = cache
                decodeStart[i] = monotonicSeconds()
                active.append(i)
            }
            guard !active.isEmpty else { return results }
            var fed: [Int] = [], tokens: [Int32] = []
            for i in active {
                guard let next = samplers[i].next(UnsafeBufferPointer(start: logits[i]!.data, count: sampled)) else {
                    throw FormatError(model.path, "the model produced non-finite logits after \(prompts[i].count + results[i].tokens.count) tokens")
                }
                if model.stopTokens.contains(next) {
                    results[i].finishReason = .stop
                } else {
                    results[i].tokens.append(next)
                    onToken(i, next)
                    if results[i].tokens.count == maxTokens {
                        results[i].finishReason = .length
                    } else if caches[i]!.count == caches[i]!.capacity {
                        results[i].finishReason = .context
                    } else {
                        fed.append(i); tokens.append(next)
                        continue
                    }
                }
                results[i].decodeSeconds = monotonicSeconds() - decodeStart[i]!
                caches[i] = nil; logits[i] = nil
                onFinish(i)
            }
            active = fed
            guard !fed.isEmpty else { continue }
            let next = model.decoder.logitsOfNext(tokens: tokens, caches: fed.map { caches[$0]! })
            for (row, i) in fed.enumerated() { logits[i] = next.rows(row..<row + 1) }
        }
    }
}

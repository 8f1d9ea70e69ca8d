import EffiCore
import EffiTokenizer

/// Text generation with a KV cache: the prompt is fed in one pass, then one token per step until
/// a stop token or the token limit.
public struct Generator {
    public let decoder: Decoder
    public let tokenizer: Tokenizer

    public struct Result {
        public var tokens: [Int32] = []
        /// Why generation ended: "stop" (a stop token, not included in `tokens`) or "length".
        public var finishReason = "length"
        public var promptTokens = 0
        public var prefillSeconds = 0.0
        public var decodeSeconds = 0.0
    }

    public init(decoder: Decoder, tokenizer: Tokenizer) {
        self.decoder = decoder
        self.tokenizer = tokenizer
    }

    /// The ids that end a reply: EOS and, for chat models, the end-of-turn token.
    public var stopTokens: Set<Int32> {
        var stops = Set([tokenizer.eosID].compactMap { $0 })
        if let end = tokenizer.specialTokens[ChatTemplate.end] { stops.insert(end) }
        return stops
    }

    /// Generates after `prompt`; `onText` receives the text of each token as soon as it is complete.
    public func generate(prompt: [Int32], maxTokens: Int, sampler: inout Sampler,
                         onText: (String) -> Void = { _ in }) -> Result {
        precondition(!prompt.isEmpty, "an empty prompt")
        var result = Result(promptTokens: prompt.count)
        let cache = KVCache(config: decoder.config, capacity: min(decoder.config.contextLength, prompt.count + maxTokens))
        var stream = TextStream(tokenizer: tokenizer)
        let stops = stopTokens
        var start = monotonicSeconds()
        var logits = decoder.logitsOfNext(tokens: prompt, cache: cache)
        result.prefillSeconds = monotonicSeconds() - start
        start = monotonicSeconds()
        while result.tokens.count < maxTokens {
            let next = sampler.next(UnsafeBufferPointer(logits.buffer))
            if stops.contains(next) { result.finishReason = "stop"; break }
            result.tokens.append(next)
            onText(stream.append(next))
            guard result.tokens.count < maxTokens, cache.count < cache.capacity else { break }
            logits = decoder.logitsOfNext(tokens: [next], cache: cache)
        }
        onText(stream.finish())
        result.decodeSeconds = monotonicSeconds() - start
        return result
    }
}

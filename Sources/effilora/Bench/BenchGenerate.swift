import ArgumentParser
import EffiCore
import EffiModel
import Foundation

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Decode throughput with the KV cache: tokens/s of --batch sequences advancing one token a step together, and the weight bandwidth it implies.")

    @Option(help: "A GGUF file or a Hugging Face folder.")
    var model: String

    @Option(help: "Prompt tokens fed before decoding.")
    var promptTokens = 64

    @Option(help: "Tokens decoded per sequence (greedy, stop tokens ignored).")
    var tokens = 64

    @Option(help: "Sequences decoded together, each with its own KV cache (as eval --mode generate --batch-size).")
    var batch = 1

    @OptionGroup var precision: PrecisionOptions

    @Option(help: "Timed runs (after one warm-up); the median is reported.")
    var repeats = 3

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        let benchmark = "generate"
        let model: String
        let computeDtype: String, productKernels: String, baseStorage: String, decodeKernels: String
        let promptTokens, decodedTokens, batch: Int
        let prefillTokensPerSecond: Double
        let decodeTokensPerSecond: Double
        let weightMiBPerStep: Double
        let weightGBPerSecond: Double
        let peakResidentMiB: Double
        let loadSeconds: Double
        let method = "median of timed runs after one warm-up; every decode step reads all linear weights and the head once, as held (4 bytes a value in f32, 2 in bf16, the blocks' size when quantized)"
    }

    func validate() throws {
        guard promptTokens > 0, tokens > 0, repeats > 0, batch > 0 else {
            throw ValidationError("--prompt-tokens, --tokens, --batch and --repeats must be positive")
        }
    }

    func run() throws {
        let t0 = monotonicSeconds()
        let precision = try precision.resolved()
        let decoder = try self.precision.decoder(model)
        let loadSeconds = monotonicSeconds() - t0
        let c = decoder.config
        guard promptTokens + tokens <= c.contextLength else {
            throw ValidationError("\(promptTokens) + \(tokens) tokens exceed the model's context of \(c.contextLength)")
        }
        var rng = SplitMix64(seed: 1)
        let prompts = (0..<batch).map { _ in (0..<promptTokens).map { _ in Int32(rng.next() % UInt64(c.vocabulary)) } }
        let caches = (0..<batch).map { _ in KVCache(config: c, capacity: promptTokens + tokens) }
        var prefill: [Double] = [], decode: [Double] = []
        for run in 0...repeats {
            var start = monotonicSeconds()
            var logits = zip(prompts, caches).map { prompt, cache in
                cache.reset()
                return decoder.logitsOfNext(tokens: prompt, cache: cache)
            }
            let prefillSeconds = monotonicSeconds() - start
            start = monotonicSeconds()
            var sampler = Sampler()
            for _ in 0..<tokens {
                let next = logits.map { sampler.next(UnsafeBufferPointer($0.buffer)) ?? 0 }
                let all = decoder.logitsOfNext(tokens: next, caches: caches)
                logits = (0..<batch).map { all.rows($0..<$0 + 1) }
            }
            if run > 0 {
                prefill.append(prefillSeconds)
                decode.append(monotonicSeconds() - start)
            }
        }
        // Every layer's linear weights and the head, as held (blocks when quantized).
        let w = decoder.weights
        let weightBytes = Double(w.productWeights.reduce(0) { $0 + $1.byteCount })
        let decodeRate = Double(batch * tokens) / median(decode), stepsPerSecond = Double(tokens) / median(decode)
        let report = Report(model: model, computeDtype: precision.rawValue, productKernels: precision.kernels,
                            baseStorage: w.storageSummary, decodeKernels: QuantizedMatrix.dotKernels, promptTokens: promptTokens, decodedTokens: tokens, batch: batch,
                            prefillTokensPerSecond: Double(batch * promptTokens) / median(prefill), decodeTokensPerSecond: decodeRate,
                            weightMiBPerStep: weightBytes / 1_048_576, weightGBPerSecond: weightBytes * stepsPerSecond / 1e9,
                            peakResidentMiB: Double(peakResidentBytes()) / 1_048_576, loadSeconds: loadSeconds)
        if json {
            try printJSON(report)
        } else {
            print(precision.summary)
            print(w.storageSummary + "; int8 dot kernels: " + QuantizedMatrix.dotKernels)
            print(String(format: "generate: %d × prompt %d tokens at %.0f tok/s; decode %d × %d tokens at %.1f tok/s (%.0f MiB of weights per step = %.1f GB/s); peak RSS %.0f MiB; load %.1f s",
                         batch, promptTokens, report.prefillTokensPerSecond, batch, tokens, decodeRate, report.weightMiBPerStep,
                         report.weightGBPerSecond, report.peakResidentMiB, loadSeconds))
        }
    }
}

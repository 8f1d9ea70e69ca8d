import ArgumentParser
import EffiCore
import EffiModel
import Foundation

struct BenchForward: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Prefill throughput of a model: tokens/s, peak memory, fraction of the measured sgemm limit.")

    @Option(help: "A GGUF file or a Hugging Face folder.")
    var model: String

    @Option(help: "Tokens per sequence.")
    var seqLen = 256

    @Option(help: "Sequences per batch.")
    var batch = 4

    @OptionGroup var precision: PrecisionOptions

    @Option(help: "Timed forward passes (after one warm-up).")
    var repeats = 3

    @Flag(help: "Print JSON.")
    var json = false

    struct Report: Encodable {
        let benchmark = "forward"
        let model: String
        let computeDtype: String, productKernels: String
        let batch, seqLen: Int
        let tokensPerSecond: Double
        let secondsPerForward: Double
        let gflopPerForward: Double
        let achievedGFLOPS: Double
        let productLimitGFLOPS: Double
        let fractionOfLimit: Double
        let peakResidentMiB: Double
        let loadSeconds: Double
        let method = "median of timed passes after one warm-up; limit = the precision's product (x·Wᵀ) at the model's FFN shape"
    }

    func validate() throws {
        guard seqLen > 0, batch > 0, repeats > 0 else { throw ValidationError("--seq-len, --batch and --repeats must be positive") }
    }

    func run() throws {
        let t0 = monotonicSeconds()
        let precision = try precision.resolved()
        let decoder = try self.precision.decoder(model)
        let loadSeconds = monotonicSeconds() - t0
        let c = decoder.config, n = batch * seqLen
        guard seqLen <= c.contextLength else { throw ValidationError("--seq-len \(seqLen) exceeds the model's context of \(c.contextLength)") }
        var rng = SplitMix64(seed: 1)
        let tokens = (0..<n).map { _ in Int32(rng.next() % UInt64(c.vocabulary)) }
        var samples: [Double] = []
        for i in 0...repeats {
            let s = monotonicSeconds()
            _ = decoder.logits(tokens: tokens, batch: batch, seqLen: seqLen)
            if i > 0 { samples.append(monotonicSeconds() - s) }
        }
        let seconds = median(samples)
        // Products: 2 · (per-layer linear weights + output head) per token, plus attention's QKᵀ
        // and PV over the scores its causal blocks compute (about half the T×T square per head).
        let scores = CausalAttention(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim).computedScores(seqLen: seqLen)
        let attention = Double(c.layers) * 2 * 2 * Double(scores * batch) * Double(c.headDim) * Double(c.heads)
        let gflop = Double(n) * 2 * Double(c.linearParameterCount) / 1e9 + attention / 1e9
        let limit = productLimit(m: n, n: c.ffnWidth, k: c.modelWidth, precision: precision)
        let report = Report(model: model, computeDtype: precision.rawValue, productKernels: precision.kernels, batch: batch, seqLen: seqLen, tokensPerSecond: Double(n) / seconds,
                            secondsPerForward: seconds, gflopPerForward: gflop, achievedGFLOPS: gflop / seconds,
                            productLimitGFLOPS: limit, fractionOfLimit: gflop / seconds / limit,
                            peakResidentMiB: Double(peakResidentBytes()) / 1_048_576, loadSeconds: loadSeconds)
        if json {
            try printJSON(report)
        } else {
            print(precision.summary)
            print(String(format: "forward %d×%d: %.0f tokens/s, %.3f s/pass, %.1f GFLOP/s = %.0f%% of the %.0f GFLOP/s product limit; peak RSS %.0f MiB; load %.1f s",
                         batch, seqLen, report.tokensPerSecond, seconds, report.achievedGFLOPS, 100 * report.fractionOfLimit,
                         limit, report.peakResidentMiB, loadSeconds))
        }
    }
}

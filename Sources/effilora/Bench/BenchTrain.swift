import ArgumentParser
import EffiAdapters
import EffiCore
import EffiModel
import EffiTrain
import Foundation

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training-step throughput: tokens/s, s/step, peak memory, trainable parameters, time in adapter products.")

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @Option(help: "Tokens per sequence.") var seqLen = 256
    @Option(help: "Sequences per step.") var batch = 4
    @OptionGroup var adapter: AdapterOptions
    @OptionGroup var precision: PrecisionOptions
    @Flag(help: "Recompute each layer's forward in the backward.") var gradCheckpoint = false
    @Option(help: "Reducer: keep this many (≥ 1) or this fraction of the layers trainable. Random data give no meaningful scores, so the benchmark fixes the active set to the top layers.") var reducerKeep: Double?
    @Option(help: "Reducer: freeze | drop the other layers' branches.") var reducerMode = ReducerOptions.Mode.freeze
    @Flag(help: "With --reducer-mode drop: start each step's forward at the lowest kept layer from the activation cache, as a run does from its second epoch on (the warm-up step fills the cache).") var activationCache = false
    @Option(help: "Timed steps (after one warm-up).") var steps = 3
    @Flag(help: "Print JSON.") var json = false

    struct Report: Encodable {
        let benchmark = "train"
        let model: String, method: String
        let computeDtype: String, productKernels: String
        let batch, seqLen, rank: Int
        let trainableParameters: Int
        let tokensPerSecond: Double
        let secondsPerStep: Double
        let adapterSecondsPerStep: Double
        let adapterFraction: Double
        let breakdownSecondsPerStep: [String: Double]
        let gflopPerStep: Double
        let achievedGFLOPS: Double
        let productLimitGFLOPS: Double
        let fractionOfLimit: Double
        let peakResidentMiB: Double
        let gradientCheckpointing: Bool
        let activeLayers: [Int]
        let forwardStartsAtLayer: Int
        let backwardStopsAtLayer: Int?
        let method_ = "median of timed steps of the training step train runs (forward, loss, backward, clip, AdamW) after one warm-up; FLOPs per token: forward 2 · head + (2 · layer weights + 4·K·d) per layer it runs; backward 2 · head + (2 · layer weights + 8·K·d) per layer it reaches, K = keys per query the causal attention blocks compute; limit = the compute precision's product (x·Wᵀ) at the FFN shape"
        enum CodingKeys: String, CodingKey {
            case benchmark, model, method, computeDtype, productKernels, batch, seqLen, rank, trainableParameters, tokensPerSecond, secondsPerStep
            case adapterSecondsPerStep, adapterFraction, breakdownSecondsPerStep, gflopPerStep, achievedGFLOPS, productLimitGFLOPS, fractionOfLimit
            case peakResidentMiB, gradientCheckpointing, activeLayers, forwardStartsAtLayer, backwardStopsAtLayer, method_ = "measurement"
        }
    }

    func validate() throws {
        guard seqLen > 1, batch > 0, steps > 0 else { throw ValidationError("--seq-len > 1, --batch and --steps > 0") }
        guard !activationCache || (reducerKeep != nil && reducerMode == .drop) || adapter.numLayers != nil || adapter.layers != "all" else {
            throw ValidationError("--activation-cache needs --reducer-keep with --reducer-mode drop, or adapted top layers only (--num-layers)")
        }
    }

    func run() throws {
        let precision = try precision.resolved()
        let decoder = try self.precision.decoder(model)
        let c = decoder.config
        guard seqLen <= c.contextLength else { throw ValidationError("--seq-len \(seqLen) exceeds the context of \(c.contextLength)") }
        let adapters = try Adapters(config: try adapter.config(for: c), model: c, weights: decoder.weights)
        var activeLayers = adapters.adaptedLayers
        if let reducerKeep {
            if let reason = adapters.notReducibleByLayer { throw ValidationError("--reducer-keep: \(reason)") }
            var r = ReducerOptions()
            r.keep = reducerKeep
            activeLayers = Array(adapters.adaptedLayers.suffix(r.keptCount(of: adapters.adaptedLayers.count)))
            for l in adapters.adaptedLayers where !activeLayers.contains(l) { adapters.setMode(reducerMode == .drop ? .dropped : .frozen, layer: l) }
        }
        if activationCache && (adapters.lowestContributingLayer ?? 0) == 0 {
            throw ValidationError("--activation-cache: layer 0 carries an adapter branch, so no layer input is a fixed function of the example; adapt only top layers or use --reducer-mode drop")
        }
        // Random tokens, each row one example of seqLen tokens (targets: the next token).
        var rng = SplitMix64(seed: 1)
        let examples = (0..<batch).map { _ in Example(tokens: (0..<seqLen).map { _ in Int32(rng.next() % UInt64(c.vocabulary)) }, promptLength: 0) }
        var options = TrainingOptions()
        options.batchSize = batch; options.gradientCheckpointing = gradCheckpoint
        let step = TrainingStep(decoder: decoder, adapters: adapters, options: options, data: Batcher(examples: examples, batchSize: batch, seed: 0),
                                reducer: nil, activationCache: activationCache ? .auto : .off, runFolder: FileManager.default.temporaryDirectory.path)
        var samples: [(total: Double, adapter: Double, parts: [StepProfile.Part: Double])] = [], backwardStop: Int?
        StepProfile.enabled = true
        defer { StepProfile.enabled = false }
        for i in 0...steps {
            _ = StepProfile.take()
            let start = monotonicSeconds()
            let outcome = try step.run([Array(0..<batch)], firstMicroBatch: i, learningRate: 1e-4, label: "bench step \(i)")
            if i > 0 { samples.append((monotonicSeconds() - start, outcome.adapterSeconds, StepProfile.take())) }
            backwardStop = outcome.backwardStop
        }
        let cacheLayer = step.activationCache?.layer
        let seconds = median(samples.map(\.total)), adapterSeconds = median(samples.map(\.adapter))
        // The median step's parts; "other" is the rest (norms, RoPE, SwiGLU, loss, optimiser, copies).
        let medianStep = samples.sorted { $0.total < $1.total }[samples.count / 2]
        let products = medianStep.parts[.baseProducts] ?? 0, attention = medianStep.parts[.attention] ?? 0
        let breakdown: [String: Double] = ["baseProducts": products, "bf16InputRounding": medianStep.parts[.inputRounding] ?? 0,
                         "dequantization": medianStep.parts[.dequantization] ?? 0, "attention": attention, "adapters": medianStep.adapter,
                         "other": medianStep.total - products - attention - medianStep.adapter]
        // Forward: 2 · head + (2 · layer weights + attention 4·K·d) per layer it runs (all, or from the
        // cached layer up); backward (input gradients only): the head and the layers from the lowest
        // trainable one up, 2 · weights + attention 8·K·d each; K = keys per query the causal blocks
        // compute (the backward's recomputed scores not counted).
        let keysPerQuery = Double(CausalAttention(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim).computedScores(seqLen: seqLen)) / Double(seqLen)
        let n = Double(batch * seqLen), d = Double(c.modelWidth), t = keysPerQuery, L = Double(c.layers)
        let head = Double(c.vocabulary * c.modelWidth), perLayer = (Double(c.linearParameterCount) - head) / L
        let forwardStart = cacheLayer ?? 0
        let forwardLayers = Double(c.layers - forwardStart)
        let backwardLayers = Double(c.layers - (backwardStop ?? c.layers))
        let gflop = n * (2 * head + forwardLayers * (2 * perLayer + 4 * t * d)
                         + 2 * head + backwardLayers * (2 * perLayer + 8 * t * d)) / 1e9
        let limit = productLimit(m: batch * seqLen, n: c.ffnWidth, k: c.modelWidth, precision: precision)
        let report = Report(model: model, method: adapter.method.rawValue, computeDtype: precision.rawValue,
                            productKernels: precision.kernels, batch: batch, seqLen: seqLen, rank: adapters.config.rank,
                            trainableParameters: adapters.liveParameters.filter(\.trainable).reduce(0) { $0 + $1.value.count },
                            tokensPerSecond: n / seconds, secondsPerStep: seconds, adapterSecondsPerStep: adapterSeconds,
                            adapterFraction: adapterSeconds / seconds, breakdownSecondsPerStep: breakdown, gflopPerStep: gflop, achievedGFLOPS: gflop / seconds,
                            productLimitGFLOPS: limit, fractionOfLimit: gflop / seconds / limit,
                            peakResidentMiB: Double(peakResidentBytes()) / 1_048_576, gradientCheckpointing: gradCheckpoint,
                            activeLayers: activeLayers, forwardStartsAtLayer: forwardStart,
                            backwardStopsAtLayer: backwardStop)
        if json {
            try printJSON(report)
        } else {
            if reducerKeep != nil { print("reducer: active layers fixed to \(activeLayers.map(String.init).joined(separator: ",")) (\(reducerMode.rawValue) the others); the forward starts at layer \(forwardStart)\(cacheLayer == nil ? "" : " (activation cache)"), the backward stops at layer \(backwardStop.map(String.init) ?? "-")") }
            print(precision.summary)
            print(String(format: "step breakdown (median step, s): base products %.3f (of which bf16 input rounding %.3f, dequantisation %.3f), attention %.3f, adapters %.3f, other %.3f",
                         products, medianStep.parts[.inputRounding] ?? 0, medianStep.parts[.dequantization] ?? 0, attention, medianStep.adapter, breakdown["other"]!))
            print(String(format: "train %@ %d×%d r%d: %.0f tokens/s, %.2f s/step (adapters %.3f s = %.1f%%), %.0f GFLOP/s = %.0f%% of %.0f; %d trainable; peak RSS %.0f MiB",
                         adapter.method.rawValue, batch, seqLen, adapters.config.rank, report.tokensPerSecond, seconds, adapterSeconds, 100 * report.adapterFraction,
                         report.achievedGFLOPS, 100 * report.fractionOfLimit, limit, report.trainableParameters, report.peakResidentMiB))
        }
    }
}

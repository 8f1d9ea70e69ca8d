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
    @Option(help: "lora | effilora | lora-fa | vera | hydralora.") var method = AdapterConfig.Method.lora
    @Option(help: "Tokens per sequence.") var seqLen = 256
    @Option(help: "Sequences per step.") var batch = 4
    @Option(help: "Adapter rank.") var rank = 8
    @Option(help: "LoRA alpha.") var alpha: Float = 16
    @Option(parsing: .upToNextOption, help: "Sites: q k v o gate up down, their _proj names, or all.") var targets = ["all"]
    @Option(help: "B experts per site (effilora, hydralora).") var experts = 1
    @Option(help: "EffiLoRA's A sharing: input | type | none.") var share = AdapterConfig.Share.input
    @Flag(help: "Recompute each layer's forward in the backward.") var gradCheckpoint = false
    @Option(help: "Reducer: keep this many (≥ 1) or this fraction of the layers trainable. Random data give no meaningful scores, so the benchmark fixes the active set to the top layers.") var reducerKeep: Double?
    @Option(help: "Reducer: freeze | drop the other layers' branches.") var reducerMode = ReducerOptions.Mode.freeze
    @Flag(help: "With --reducer-mode drop: start each step's forward at the lowest kept layer from the activation cache, as a run does from its second epoch on (the warm-up step fills the cache).") var activationCache = false
    @Option(help: "Timed steps (after one warm-up).") var steps = 3
    @Flag(help: "Print JSON.") var json = false

    struct Report: Encodable {
        let benchmark = "train"
        let model: String, method: String
        let batch, seqLen, rank: Int
        let trainableParameters: Int
        let tokensPerSecond: Double
        let secondsPerStep: Double
        let adapterSecondsPerStep: Double
        let adapterFraction: Double
        let gflopPerStep: Double
        let achievedGFLOPS: Double
        let sgemmLimitGFLOPS: Double
        let fractionOfLimit: Double
        let peakResidentMiB: Double
        let gradientCheckpointing: Bool
        let activeLayers: [Int]
        let forwardStartsAtLayer: Int
        let backwardStopsAtLayer: Int?
        let method_ = "median of timed steps (forward, loss, backward, AdamW) after one warm-up; FLOPs per token: forward 2 · head + (2 · layer weights + 4·T·d) per layer it runs; backward 2 · head + (2 · layer weights + 8·T·d) per layer it reaches; limit = sgemm at the FFN shape"
        enum CodingKeys: String, CodingKey {
            case benchmark, model, method, batch, seqLen, rank, trainableParameters, tokensPerSecond, secondsPerStep
            case adapterSecondsPerStep, adapterFraction, gflopPerStep, achievedGFLOPS, sgemmLimitGFLOPS, fractionOfLimit
            case peakResidentMiB, gradientCheckpointing, activeLayers, forwardStartsAtLayer, backwardStopsAtLayer, method_ = "measurement"
        }
    }

    func validate() throws {
        guard seqLen > 1, batch > 0, steps > 0, rank > 0 else { throw ValidationError("--seq-len > 1, --batch, --steps, --rank > 0") }
        guard !activationCache || (reducerKeep != nil && reducerMode == .drop) else {
            throw ValidationError("--activation-cache needs --reducer-keep with --reducer-mode drop (the layers below must carry no adapter)")
        }
    }

    func run() throws {
        let decoder = try LanguageModel.decoder(model)
        let c = decoder.config
        guard seqLen <= c.contextLength else { throw ValidationError("--seq-len \(seqLen) exceeds the context of \(c.contextLength)") }
        var a = AdapterConfig()
        a.method = method; a.rank = rank; a.alpha = alpha; a.experts = experts; a.share = share
        a.targets = try AdapterConfig.parseTargets(targets)
        let adapters = try Adapters(config: a, model: c)
        var activeLayers = adapters.adaptedLayers
        if let reducerKeep {
            var r = ReducerOptions()
            r.keep = reducerKeep
            activeLayers = Array(adapters.adaptedLayers.suffix(r.keptCount(of: adapters.adaptedLayers.count)))
            for l in adapters.adaptedLayers where !activeLayers.contains(l) { adapters.setMode(reducerMode == .drop ? .dropped : .frozen, layer: l) }
        }
        let timed = TimedAdapter(adapters)
        var rng = SplitMix64(seed: 1)
        let tokens = (0..<batch * seqLen).map { _ in Int32(rng.next() % UInt64(c.vocabulary)) }
        var targets = Array(tokens.dropFirst()) + [CrossEntropy.ignoreIndex]
        for b in 1..<batch { targets[b * seqLen - 1] = CrossEntropy.ignoreIndex }
        let trainingBatch = TrainingBatch(tokens: tokens, targets: targets, keyMask: nil, batch: batch, seqLen: seqLen)
        let pass = TrainingPass(decoder: decoder, checkpointing: gradCheckpoint)
        let optimizer = AdamW(options: .init())
        adapters.training = true
        let cacheLayer = adapters.lowestContributingLayer ?? 0
        let cache = try ActivationCache(setting: activationCache ? .auto : .off, examples: (0..<batch).map { b in
            Example(tokens: Array(tokens[b * seqLen..<(b + 1) * seqLen]), promptLength: 0)
        }, width: c.modelWidth, layer: cacheLayer, runFolder: FileManager.default.temporaryDirectory.path)
        var samples: [(total: Double, adapter: Double)] = []
        for i in 0...steps {
            let start = monotonicSeconds()
            timed.seconds = 0
            for p in adapters.parameters where p.trainable { p.gradient.zero() }
            let states = Tensor(shape: [batch * seqLen, c.modelWidth])
            if let cache, cache.gather(Array(0..<batch), seqLen: seqLen, into: states) {
                pass.run(trainingBatch, adapter: timed, lossScale: 1 / Float(trainingBatch.targetCount), start: (cacheLayer, states))
            } else {
                pass.run(trainingBatch, adapter: timed, lossScale: 1 / Float(trainingBatch.targetCount))
                cache?.store(Array(0..<batch), seqLen: seqLen, from: pass.layerInput(cacheLayer))
            }
            optimizer.step(adapters.parameters, learningRate: 1e-4)
            if i > 0 { samples.append((monotonicSeconds() - start, timed.seconds)) }
        }
        let seconds = median(samples.map(\.total)), adapterSeconds = median(samples.map(\.adapter))
        // Forward: 2 · head + (2 · layer weights + attention 4·T·d) per layer it runs (all, or from the
        // cached layer up); backward (input gradients only): the head and the layers from the lowest
        // trainable one up, 2 · weights + attention 8·T·d each.
        let n = Double(batch * seqLen), d = Double(c.modelWidth), t = Double(seqLen), L = Double(c.layers)
        let head = Double(c.vocabulary * c.modelWidth), perLayer = (Double(c.linearParameterCount) - head) / L
        let forwardStart = cache == nil ? 0 : cacheLayer
        let forwardLayers = Double(c.layers - forwardStart)
        let backwardLayers = Double(c.layers - (adapters.lowestLayerNeedingGradients ?? c.layers))
        let gflop = n * (2 * head + forwardLayers * (2 * perLayer + 4 * t * d)
                         + 2 * head + backwardLayers * (2 * perLayer + 8 * t * d)) / 1e9
        let limit = sgemmLimit(m: batch * seqLen, n: c.ffnWidth, k: c.modelWidth)
        let report = Report(model: model, method: method.rawValue, batch: batch, seqLen: seqLen, rank: rank,
                            trainableParameters: adapters.liveParameters.filter(\.trainable).reduce(0) { $0 + $1.value.count },
                            tokensPerSecond: n / seconds, secondsPerStep: seconds, adapterSecondsPerStep: adapterSeconds,
                            adapterFraction: adapterSeconds / seconds, gflopPerStep: gflop, achievedGFLOPS: gflop / seconds,
                            sgemmLimitGFLOPS: limit, fractionOfLimit: gflop / seconds / limit,
                            peakResidentMiB: Double(peakResidentBytes()) / 1_048_576, gradientCheckpointing: gradCheckpoint,
                            activeLayers: activeLayers, forwardStartsAtLayer: forwardStart,
                            backwardStopsAtLayer: adapters.lowestLayerNeedingGradients)
        if json {
            try printJSON(report)
        } else {
            if reducerKeep != nil { print("reducer: active layers fixed to \(activeLayers.map(String.init).joined(separator: ",")) (\(reducerMode.rawValue) the others); the forward starts at layer \(forwardStart)\(cache == nil ? "" : " (activation cache)"), the backward stops at layer \(adapters.lowestLayerNeedingGradients.map(String.init) ?? "-")") }
            print(String(format: "train %@ %d×%d r%d: %.0f tokens/s, %.2f s/step (adapters %.3f s = %.1f%%), %.0f GFLOP/s = %.0f%% of %.0f; %d trainable; peak RSS %.0f MiB",
                         method.rawValue, batch, seqLen, rank, report.tokensPerSecond, seconds, adapterSeconds, 100 * report.adapterFraction,
                         report.achievedGFLOPS, 100 * report.fractionOfLimit, limit, report.trainableParameters, report.peakResidentMiB))
        }
    }
}

/// Forwards to an adapter and adds up the time spent in it (its products and element-wise work).
final class TimedAdapter: DecoderAdapter {
    let inner: DecoderAdapter
    var seconds = 0.0
    init(_ inner: DecoderAdapter) { self.inner = inner }

    func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor]) {
        let start = monotonicSeconds()
        inner.forward(layer: layer, input: input, x: x, outputs: outputs)
        seconds += monotonicSeconds() - start
    }

    func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor) {
        let start = monotonicSeconds()
        inner.backward(layer: layer, input: input, x: x, outputGradients: outputGradients, dx: dx)
        seconds += monotonicSeconds() - start
    }

    var lowestLayerNeedingGradients: Int? { inner.lowestLayerNeedingGradients }
}

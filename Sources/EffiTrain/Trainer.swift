import EffiAdapters
import EffiCore
import EffiFormats
import EffiModel
import Foundation

/// What one optimiser step did.
public struct StepMetrics: Codable, Sendable {
    public var step: Int
    public var loss: Double
    public var learningRate: Float
    public var gradientNorm: Double
    /// Tokens in the step's batches (padding excluded) and the loss targets among them.
    public var tokens: Int
    public var targets: Int
    public var seconds: Double
    public var validationLoss: Double?
    /// Router health since the previous report (multi-B adapters, at validation steps).
    public var routers: [String: RouterSummary]?
    /// With the Reducer: the number of trainable layers, and each scoring round's outcome.
    public var activeLayers: Int?
    public var reducer: ReducerRound?
}

/// Per router: each expert's mean weight, the fraction of tokens whose top weight is > 0.95, and
/// whether it has collapsed (one expert takes > 90 % of the weight).
public struct RouterSummary: Codable, Sendable {
    public var meanShare: [Double]
    public var confidentFraction: Double
    public var collapsed: Bool

    init(_ s: RouterStatistics) {
        meanShare = s.meanShare
        confidentFraction = s.confidentFraction
        collapsed = (meanShare.max() ?? 0) > 0.9
    }
}

/// A validation-only line of metrics.jsonl (step 0: the model before training).
public struct ValidationMetrics: Codable, Sendable {
    public var step: Int
    public var validationLoss: Double?
}

/// A run stopped by a non-finite value, naming the step and where it appeared.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
}

/// The training loop: micro-batches of `batchSize`, `gradientAccumulation` of them per step,
/// loss averaged over all their targets, global-norm clipping, AdamW with a warmup schedule,
/// validation and checkpoints every N steps, metrics as JSON lines in the output folder.
public final class Trainer {
    public let decoder: Decoder
    public let adapters: Adapters
    public let options: TrainingOptions
    public let train: Batcher
    public let validation: Batcher?
    public let output: String
    public let optimizer: AdamW
    public private(set) var step = 0
    /// The validation loss before the first step (when the run started from step 0).
    public private(set) var initialValidationLoss: Double?
    let pass: TrainingPass
    let schedule: LearningRateSchedule
    private lazy var trainingDataHash = Checkpoint.dataHash(train.examples)
    /// The batches of the epoch in progress (an epoch's order is computed once).
    private var epochBatches: (epoch: Int, batches: [[Int]])?

    public let reducer: Reducer?
    /// Where the inputs of the lowest contributing layer are kept (see `ActivationCache`); made
    /// when a step first starts above layer 0.
    public let activationCacheSetting: ActivationCache.Setting
    public private(set) var activationCache: ActivationCache?

    public init(decoder: Decoder, adapters: Adapters, options: TrainingOptions, train: [Example], validation: [Example]?,
                output: String, reducer reducerOptions: ReducerOptions? = nil, activationCache: ActivationCache.Setting = .off) {
        self.decoder = decoder
        self.adapters = adapters
        self.options = options
        self.train = Batcher(examples: train, batchSize: options.batchSize, seed: options.seed)
        self.validation = validation.map { Batcher(examples: $0, batchSize: options.batchSize, seed: options.seed) }
        self.output = output
        activationCacheSetting = activationCache
        optimizer = AdamW(options: options.adam)
        pass = TrainingPass(decoder: decoder, checkpointing: options.gradientCheckpointing)
        schedule = LearningRateSchedule(kind: options.schedule, peak: options.learningRate, warmup: options.warmup, total: options.iterations)
        reducer = reducerOptions.map { r in
            // The held-out scoring batch: `r.batch` validation examples, chosen once by the seed.
            let pool = validation ?? train
            var rng = SplitMix64(seed: options.seed &+ 0xBEEF)
            let picked = Array(pool.indices.shuffled(using: &rng).prefix(r.batch))
            return Reducer(options: r, adapters: adapters, heldOut: Batcher(examples: pool, batchSize: r.batch, seed: 0).makeBatch(picked),
                           seed: options.seed)
        }
    }

    /// Continues from a checkpoint of a run with the same options; metrics lines after it are dropped.
    public func resume(from path: String) throws {
        let checkpoint = try Checkpoint.latest(in: path)
        let state = try Checkpoint.load(checkpoint, into: adapters, optimizer: optimizer)
        guard state.reducerOptions == reducer?.options else {
            throw FormatError(checkpoint, "was written with other Reducer options; resume with the same ones")
        }
        guard state.options == options else {
            throw FormatError(checkpoint, "was written by a run with other training options; resume with the same ones")
        }
        guard state.trainingExamples == train.examples.count, state.trainingDataHash == Checkpoint.dataHash(train.examples) else {
            throw FormatError(checkpoint, "was written for other training data (\(state.trainingExamples) examples then, \(train.examples.count) now, or other tokens); resume on the same data and model")
        }
        step = state.step
        if let reducer {
            guard let saved = state.reducer, let modes = state.layerModes else {
                throw FormatError(checkpoint, "was written by a run without the Reducer")
            }
            reducer.restore(saved, modes: modes)
        }
        try MetricsLog(output: output).truncate(afterStep: step)
    }

    /// Runs to `options.iterations` (or only to `stopAfter`), calling `progress` after every step;
    /// the final adapter is written when the last iteration is done.
    public func run(stopAfter: Int? = nil, progress: (StepMetrics) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let log = try MetricsLog(output: output)
        if step == 0, let validation {
            // The base model's validation loss (the adapters start as the identity), for comparison.
            let loss = try evaluate(validation)
            try log.append(ValidationMetrics(step: 0, validationLoss: loss))
            initialValidationLoss = loss
        }
        while step < min(stopAfter ?? options.iterations, options.iterations) {
            var metrics = try trainStep()
            if let validation, (options.validateEvery > 0 && step % options.validateEvery == 0) || step == options.iterations {
                metrics.validationLoss = try evaluate(validation)
                if !adapters.routerStatistics.isEmpty {
                    metrics.routers = adapters.routerStatistics.mapValues(RouterSummary.init)
                    adapters.resetRouterStatistics()
                }
            }
            try log.append(metrics)
            if options.saveEvery > 0 && step % options.saveEvery == 0 || step == options.iterations { try saveCheckpoint() }
            progress(metrics)
        }
        if step == options.iterations {
            try AdapterFile.save(adapters, to: (output as NSString).appendingPathComponent("adapter"), layerScores: reducer?.state.scores)
        }
    }

    public func saveCheckpoint() throws {
        let state = Checkpoint.State(step: step, optimizerSteps: optimizer.steps, options: options, adapter: adapters.config,
                                     trainingExamples: train.examples.count, trainingDataHash: trainingDataHash,
                                     reducerOptions: reducer?.options, reducer: reducer?.state,
                                     layerModes: reducer == nil ? nil : adapters.layerModes)
        try Checkpoint.save(output: output, state: state, adapters: adapters, optimizer: optimizer)
    }

    /// The example indices of the `index`-th micro-batch of the run (epochs one after another).
    func trainBatchIndices(at index: Int) -> [Int] {
        let perEpoch = train.batchesPerEpoch, epoch = index / perEpoch
        if epochBatches?.epoch != epoch { epochBatches = (epoch, train.batches(epoch: epoch)) }
        return epochBatches!.batches[index % perEpoch]
    }

    /// Forward, loss and backward of one micro-batch; with the activation cache, from the lowest
    /// contributing layer when every example's input there is held (the same numbers: the layers
    /// below run as the base model alone), else from the embeddings, keeping those inputs.
    private func forwardBackward(_ batch: TrainingBatch, indices: [Int], lossScale: Float) throws -> Double {
        guard activationCacheSetting != .off, let layer = adapters.lowestContributingLayer, layer > 0 else {
            return pass.run(batch, adapter: adapters, lossScale: lossScale).nllSum
        }
        if activationCache == nil {
            activationCache = try ActivationCache(setting: activationCacheSetting, examples: train.examples, width: decoder.config.modelWidth,
                                                  layer: layer, runFolder: output)
        }
        let cache = activationCache!
        if layer > cache.layer {
            cache.advance(to: layer, chunk: options.batchSize) { examples, _, states in
                pass.forwardBase(states, layers: cache.layer..<layer, batch: train.makeBatch(examples))
            }
        }
        cache.use(layer: layer)
        let states = Tensor(shape: [batch.batch * batch.seqLen, decoder.config.modelWidth])
        if cache.gather(indices, seqLen: batch.seqLen, into: states) {
            return pass.run(batch, adapter: adapters, lossScale: lossScale, start: (layer, states)).nllSum
        }
        let nll = pass.run(batch, adapter: adapters, lossScale: lossScale).nllSum
        cache.store(indices, seqLen: batch.seqLen, from: pass.layerInput(layer))
        return nll
    }

    /// One optimiser step over `gradientAccumulation` micro-batches.
    func trainStep() throws -> StepMetrics {
        let start = monotonicSeconds()
        let accumulation = options.gradientAccumulation
        let batchIndices = (0..<accumulation).map { trainBatchIndices(at: step * accumulation + $0) }
        let batches = batchIndices.map(train.makeBatch)
        let targets = batches.reduce(0) { $0 + $1.targetCount }
        for p in adapters.parameters where p.trainable { p.gradient.zero() }
        adapters.training = true
        adapters.balanceScale = 1 / Float(accumulation)
        adapters.resetAuxiliaryLoss()
        var nll = 0.0, auxiliary = 0.0
        for (i, batch) in batches.enumerated() {
            adapters.microBatch = step * accumulation + i
            reducer?.beginBackward()
            nll += try forwardBackward(batch, indices: batchIndices[i], lossScale: 1 / Float(max(targets, 1)))
            reducer?.endBackward()
            if let layer = pass.firstNonFiniteLayer {
                throw TrainingError(description: "step \(step + 1): a NaN or infinity appeared in the output of layer \(layer)")
            }
            auxiliary += adapters.auxiliaryLoss
            adapters.resetAuxiliaryLoss()
        }
        let loss = nll / Double(max(targets, 1)) + auxiliary
        guard loss.isFinite else { throw TrainingError(description: "step \(step + 1): the loss is \(loss)") }
        var squares = 0.0
        for p in adapters.parameters where p.trainable {
            var s = 0.0
            for i in 0..<p.gradient.count { s += Double(p.gradient[i]) * Double(p.gradient[i]) }
            guard s.isFinite else {
                throw TrainingError(description: "step \(step + 1): the gradient of \(p.name) holds a NaN or infinity")
            }
            squares += s
        }
        let norm = squares.squareRoot()
        if options.clipNorm > 0 && norm > Double(options.clipNorm) {
            let factor = Float(Double(options.clipNorm) / norm)
            for p in adapters.parameters where p.trainable { for i in 0..<p.gradient.count { p.gradient[i] *= factor } }
        }
        let lr = schedule.rate(at: step)
        optimizer.step(adapters.parameters, learningRate: lr)
        step += 1
        let tokens = batches.reduce(0) { $0 + ($1.keyMask?.filter { $0 }.count ?? $1.tokens.count) }
        var metrics = StepMetrics(step: step, loss: loss, learningRate: lr, gradientNorm: norm, tokens: tokens, targets: targets,
                                  seconds: monotonicSeconds() - start, validationLoss: nil)
        if let reducer {
            if reducer.isRoundDue(afterStep: step) { metrics.reducer = reducer.round(pass: pass) }
            metrics.activeLayers = adapters.adaptedLayers.filter { adapters.layerModes[$0] == .active }.count
        }
        return metrics
    }

    /// Mean next-token NLL over the validation batches (all, or the first `validationBatches`).
    public func evaluate(_ data: Batcher) throws -> Double {
        adapters.training = false
        defer { adapters.training = true }
        return try meanLoss(data, batchLimit: options.validationBatches, pass: pass, adapter: adapters,
                            context: "validation after step \(step)").loss
    }
}

/// Mean next-token NLL over the batches of `data` (epoch 0; the first `batchLimit`, or all when 0),
/// forward only; a NaN or infinity stops it with an error that starts with `context`.
public func meanLoss(_ data: Batcher, batchLimit: Int = 0, pass: TrainingPass, adapter: DecoderAdapter?,
                     context: String) throws -> (loss: Double, targets: Int) {
    let all = data.batches(epoch: 0)
    var nll = 0.0, targets = 0
    for indices in all.prefix(batchLimit > 0 ? batchLimit : all.count) {
        let (sum, n) = pass.run(data.makeBatch(indices), adapter: adapter, lossScale: 0, backward: false)
        if let layer = pass.firstNonFiniteLayer {
            throw TrainingError(description: "\(context): a NaN or infinity appeared in the output of layer \(layer)")
        }
        nll += sum
        targets += n
    }
    let loss = nll / Double(max(targets, 1))
    guard loss.isFinite else { throw TrainingError(description: "\(context): the loss is \(loss)") }
    return (loss, targets)
}

/// `metrics.jsonl`: one JSON object per step (and its validation loss when it has one).
struct MetricsLog {
    let path: String

    init(output: String) throws {
        path = (output as NSString).appendingPathComponent("metrics.jsonl")
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: nil)
        }
    }

    func append(_ metrics: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var line = try encoder.encode(metrics)
        line.append(UInt8(ascii: "\n"))
        guard let handle = FileHandle(forWritingAtPath: path) else { throw FormatError(path, "cannot be opened for writing") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }

    /// Drops the lines of steps after `step` (written by an interrupted run after its last checkpoint).
    func truncate(afterStep step: Int) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let kept = data.split(separator: UInt8(ascii: "\n")).filter { line in
            ((try? JSONDecoder().decode(ValidationMetrics.self, from: Data(line)))?.step ?? Int.max) <= step
        }
        try writeAtomically(Data(kept.map { Data($0) + Data([UInt8(ascii: "\n")]) }.joined()), to: path)
    }
}

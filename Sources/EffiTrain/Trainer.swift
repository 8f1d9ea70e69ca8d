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
    /// At validation steps: whether this is the lowest validation loss so far, and whether early
    /// stopping ends the run here.
    public var best: Bool?
    public var earlyStop: Bool?
}

/// Per router: each expert's mean weight, the fraction of tokens whose top weight is > 0.95, and
/// whether it has collapsed (one expert takes > 90 % of the weight).
public struct RouterSummary: Codable, Sendable, Equatable {
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

/// The training loop: `TrainingStep` for each step (micro-batches of `batchSize`,
/// `gradientAccumulation` of them per step), the Reducer's rounds, validation and checkpoints
/// every N steps, metrics as JSON lines in the output folder.
public final class Trainer {
    public let decoder: Decoder
    public let adapters: Adapters
    public let options: TrainingOptions
    public let train: Batcher
    public let validation: Batcher?
    public let output: String
    public private(set) var step = 0
    /// The validation loss before the first step (when the run started from step 0).
    public private(set) var initialValidationLoss: Double?
    public let trainingStep: TrainingStep
    let schedule: LearningRateSchedule
    private lazy var trainingDataHash = Checkpoint.dataHash(train.examples)
    /// The batches of the epoch in progress (an epoch's order is computed once).
    private var epochBatches: (epoch: Int, batches: [[Int]])?
    /// Router health since the last validation (multi-B adapters).
    public private(set) var routerStatistics: [String: RouterStatistics] = [:]
    /// The best validation loss and early stopping's count.
    public private(set) var validationTracker = ValidationTracker()
    /// Early stopping ended the run before `options.iterations`.
    public var stoppedEarly: Bool { step < options.iterations && validationTracker.shouldStop(patience: options.earlyStoppingPatience) }
    /// No steps are left: the last iteration is done or early stopping ended the run.
    public var isFinished: Bool { step == options.iterations || stoppedEarly }
    /// Where the final adapter and the best adapter are written.
    public var adapterFolder: String { (output as NSString).appendingPathComponent("adapter") }
    public var bestAdapterFolder: String { (output as NSString).appendingPathComponent("adapter-best") }

    public let reducer: Reducer?
    /// Stops the run when its loss saturates or diverges (not part of the options or checkpoints:
    /// a resumed run may change its factor, and starts watching afresh).
    private var divergenceGuard: DivergenceGuard
    public var pass: TrainingPass { trainingStep.pass }
    public var optimizer: AdamW { trainingStep.optimizer }
    public var activationCache: ActivationCache? { trainingStep.activationCache }

    public init(decoder: Decoder, adapters: Adapters, options: TrainingOptions, train: [Example], validation: [Example]?,
                output: String, reducer reducerOptions: ReducerOptions? = nil, activationCache: ActivationCache.Setting = .off,
                divergenceFactor: Double = 3) {
        self.decoder = decoder
        self.adapters = adapters
        self.options = options
        self.train = Batcher(examples: train, batchSize: options.batchSize, seed: options.seed)
        self.validation = validation.map { Batcher(examples: $0, batchSize: options.batchSize, seed: options.seed) }
        self.output = output
        divergenceGuard = DivergenceGuard(factor: divergenceFactor, vocabulary: decoder.config.vocabulary)
        trainingStep = TrainingStep(decoder: decoder, adapters: adapters, options: options, data: self.train, reducer: reducerOptions,
                                    activationCache: activationCache, runFolder: output)
        schedule = LearningRateSchedule(kind: options.schedule, peak: options.learningRate, warmup: options.warmup, total: options.iterations)
        reducer = reducerOptions.map { r in
            // The scoring batch: `r.batch` training examples, chosen once by the seed, so the
            // validation set only measures.
            var rng = SplitMix64(seed: options.seed &+ 0xBEEF)
            let picked = Array(train.indices.shuffled(using: &rng).prefix(r.batch))
            return Reducer(options: r, adapters: adapters, scoringBatch: Batcher(examples: train, batchSize: r.batch, seed: 0).makeBatch(picked),
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
        if let snapshot = state.activationCache {
            try trainingStep.restoreActivationCache(snapshot, source: (checkpoint as NSString).appendingPathComponent("state.json"))
        }
        routerStatistics = state.routerStatistics ?? [:]
        validationTracker = state.validation ?? ValidationTracker()
        for folder in [adapterFolder, bestAdapterFolder] { try OutputFolder.restoreInterruptedSwap(folder) }
        try MetricsLog(output: output).truncate(afterStep: step)
    }

    /// Runs to `options.iterations` (or only to `stopAfter`, or until early stopping), calling
    /// `progress` after every step; the final adapter is written when the last iteration is done
    /// or early stopping ends the run, the best one whenever a validation sets a new lowest loss.
    public func run(stopAfter: Int? = nil, progress: (StepMetrics) -> Void = { _ in }) throws {
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let log = try MetricsLog(output: output)
        if step == 0, let validation {
            // The base model's validation loss (the adapters start as the identity), for comparison.
            let loss = try evaluate(validation)
            try log.append(ValidationMetrics(step: 0, validationLoss: loss))
            initialValidationLoss = loss
        }
        while step < min(stopAfter ?? options.iterations, options.iterations) && !stoppedEarly {
            var metrics = try trainStep()
            if let validation, (options.validateEvery > 0 && step % options.validateEvery == 0) || step == options.iterations {
                let loss = try evaluate(validation)
                metrics.validationLoss = loss
                if !routerStatistics.isEmpty {
                    metrics.routers = routerStatistics.mapValues(RouterSummary.init)
                    routerStatistics = [:]
                }
                let outcome = validationTracker.record(loss: loss, step: step, minDelta: options.earlyStoppingMinDelta)
                metrics.best = outcome.isBest
                if outcome.isBest && options.keepBest { try saveAdapter(to: bestAdapterFolder) }
                if stoppedEarly { metrics.earlyStop = true }
            }
            try log.append(metrics)
            if options.saveEvery > 0 && step % options.saveEvery == 0 || step == options.iterations || stoppedEarly { try saveCheckpoint() }
            progress(metrics)
        }
        if isFinished { try saveAdapter(to: adapterFolder) }
    }

    /// Writes the adapter into `folder` as a whole: into `folder.partial`, then swapped in by two
    /// renames, so a kill leaves the previous adapter or the new one, never a mix; a kill between
    /// the renames leaves the previous one as `folder.old`, which the next save or resume puts back.
    private func saveAdapter(to folder: String) throws {
        try OutputFolder.replace(folder, marker: AdapterFile.configName) { try AdapterFile.save(adapters, to: $0, layerScores: reducer?.state.scores) }
    }

    public func saveCheckpoint() throws {
        let state = Checkpoint.State(step: step, optimizerSteps: optimizer.steps, options: options, adapter: adapters.config,
                                     trainingExamples: train.examples.count, trainingDataHash: trainingDataHash,
                                     reducerOptions: reducer?.options, reducer: reducer?.state,
                                     layerModes: reducer == nil ? nil : adapters.layerModes, activationCache: activationCache?.snapshot,
                                     routerStatistics: routerStatistics.isEmpty ? nil : routerStatistics,
                                     validation: validationTracker)
        try Checkpoint.save(output: output, state: state, adapters: adapters, optimizer: optimizer)
    }

    /// The example indices of the `index`-th micro-batch of the run (epochs one after another).
    func trainBatchIndices(at index: Int) -> [Int] {
        let perEpoch = train.batchesPerEpoch, epoch = index / perEpoch
        if epochBatches?.epoch != epoch { epochBatches = (epoch, train.batches(epoch: epoch)) }
        return epochBatches!.batches[index % perEpoch]
    }

    /// One optimiser step over `gradientAccumulation` micro-batches, then the Reducer's round when due.
    func trainStep() throws -> StepMetrics {
        let start = monotonicSeconds()
        let accumulation = options.gradientAccumulation
        let first = step * accumulation
        let lr = schedule.rate(at: step)
        let outcome = try trainingStep.run((0..<accumulation).map { trainBatchIndices(at: first + $0) }, firstMicroBatch: first,
                                           learningRate: lr, label: "step \(step + 1)")
        step += 1
        for (name, statistics) in outcome.routerStatistics { routerStatistics[name, default: .init()].merge(statistics) }
        var metrics = StepMetrics(step: step, loss: outcome.loss, learningRate: lr, gradientNorm: outcome.gradientNorm, tokens: outcome.tokens,
                                  targets: outcome.targets, seconds: monotonicSeconds() - start, validationLoss: nil)
        try divergenceGuard.check(step: step, loss: outcome.loss, gradientNorm: outcome.gradientNorm, learningRate: lr)
        if let reducer {
            reducer.record(outcome)
            if reducer.isRoundDue(afterStep: step) { metrics.reducer = reducer.round(pass: pass) }
            metrics.activeLayers = adapters.activeLayers.count
        }
        return metrics
    }

    /// Mean next-token NLL over the validation batches (all, or the first `validationBatches`).
    public func evaluate(_ data: Batcher) throws -> Double {
        try meanLoss(data, batchLimit: options.validationBatches, pass: pass, adapter: adapters,
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
        let end = try handle.seekToEnd()
        do { try handle.write(contentsOf: line) } catch {
            // A full disk must not leave half a line: cut the file back to its last whole line.
            try? handle.truncate(atOffset: end)
            throw FormatError(path, "cannot be appended to: \(error.localizedDescription)")
        }
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

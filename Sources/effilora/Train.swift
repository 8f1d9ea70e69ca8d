import ArgumentParser
import EffiAdapters
import EffiCore
import EffiFormats
import EffiModel
import EffiTrain
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model with EffiLoRA, LoRA or a baseline on a JSONL data folder.",
        discussion: """
        The data folder holds train.jsonl and valid.jsonl (test.jsonl is not used here), one example a line: \
        {"text"}, {"prompt", "completion"} or {"messages": [{"role", "content"}, …]}. Prompt tokens are masked \
        from the loss unless --no-mask-prompt (mlx-lm's default is the opposite). The output folder gets \
        metrics.jsonl, checkpoints/step-N/ and the final adapter/. -c FILE reads options from YAML (keys are the \
        long option names with underscores); options on the command line win.
        """)

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @Option(help: "A folder with train.jsonl and valid.jsonl.") var data: String
    @Option(help: "Output folder.") var output = "out/train"
    @Option(name: [.customShort("c"), .long], help: "YAML file of options (see above).") var config: String?

    @OptionGroup var adapter: AdapterOptions
    @OptionGroup var precision: PrecisionOptions

    // Reducer (on when --reducer-keep is given)
    @Option(help: "Reducer: layers kept trainable, a count (≥ 1) or a fraction of the adapted layers (off when absent).") var reducerKeep: Double?
    @Option(help: "Reducer importance: taylor | suppression | random.") var reducerImportance = ReducerOptions.Importance.taylor
    @Option(help: "Reducer: score every N steps.") var reducerEvery = 50
    @Option(help: "Reducer: first scoring after this many steps.") var reducerWarmup = 10
    @Option(help: "Reducer: training examples in the scoring batch (a fixed seeded sample).") var reducerBatch = 8
    @Option(help: "Reducer: layers probed per suppression round (0: all).") var reducerSampleLayers = 0
    @Option(help: "Reducer: weight of the previous scores in their moving average.") var reducerEma = 0.5
    @Option(help: "Reducer: freeze (keep the forward) | drop (remove) the other layers' branches.") var reducerMode = ReducerOptions.Mode.freeze
    @Option(help: "Reducer: the shared A learns from active layers only (the backward stops at the lowest) or from all.") var reducerAGrad = ReducerOptions.SharedGradient.active
    @Option(help: "Reducer select: budget — the backward covers at most this fraction of the layers (from the top); the best layers above that cutoff are kept.") var reducerBudget: Double?

    // Training
    @Option(help: "Optimiser steps.") var iters = 1000
    @Option(help: "Examples per micro-batch.") var batchSize = 4
    @Option(help: "Micro-batches per optimiser step.") var gradAccumulation = 1
    @Option(help: "Peak learning rate.") var learningRate: Float = 2e-4
    @Option(help: "constant | linear | cosine (after warmup).") var schedule = LearningRateSchedule.Kind.cosine
    @Option(help: "Linear warmup steps.") var warmup = 0
    @Option(help: "AdamW β1.") var beta1: Float = 0.9
    @Option(help: "AdamW β2.") var beta2: Float = 0.999
    @Option(help: "AdamW ε.") var epsilon: Float = 1e-8
    @Option(help: "AdamW decoupled weight decay.") var weightDecay: Float = 0
    @Option(help: "Clip the global gradient norm to this (0: off).") var clipNorm: Float = 1
    @Option(help: "Validation loss every N steps (0: only at the end).") var stepsPerEval = 100
    @Option(help: "Validation batches per evaluation (0: all).") var valBatches = 0
    @Option(help: "Checkpoint every N steps (and at the end).") var saveEvery = 100
    @Flag(inversion: .prefixedNo, help: "Keep the adapter with the lowest validation loss in OUTPUT/adapter-best (when valid.jsonl exists).") var keepBest = true
    @Option(help: "Stop after N validations in a row without improvement (0: off; needs valid.jsonl).") var earlyStoppingPatience = 0
    @Option(help: "Early stopping: an improvement must lower the loss of the last improvement by more than this.") var earlyStoppingMinDelta = 0.0
    @Option(help: "Progress line every N steps when not on a terminal.") var stepsPerReport = 10
    @Option(help: "Seed for initialisation, shuffling and dropout.") var seed: UInt64 = 0
    @Option(help: "Examples longer than this are truncated (counted and reported).") var maxSeqLength = 2048
    @Flag(inversion: .prefixedNo, help: "Mask prompt tokens from the loss (--no-mask-prompt trains every token, chats included).") var maskPrompt = true
    @Option(help: "Chat data ({\"messages\"}): the turns trained, all-assistant | last-assistant | all (default all-assistant; all with --no-mask-prompt).") var trainOn: ChatTargets?
    @Flag(inversion: .prefixedNo, help: "Skip (and count) malformed lines instead of stopping.") var skipBadLines = false
    @Flag(inversion: .prefixedNo, help: "Recompute each layer's forward in the backward (less memory).") var gradCheckpoint = false
    @Option(help: "Continue the run in this output folder (or checkpoint folder) from its newest checkpoint.") var resume: String?
    @Option(help: "Stop when the smoothed loss rises above this multiple of its lowest (0: off); a loss stuck at ln(vocabulary) with a zero gradient always stops the run.") var divergenceFactor = 3.0
    @Flag(help: "Start over in an output folder that holds an earlier run (its files are removed first); without it such a folder is an error.") var overwrite = false
    @Option(help: "off | auto | DIR: keep each example's input of the lowest layer with an adapter branch when the layers below have none (Reducer drop mode, --num-layers), and start later epochs there; auto: in memory up to 2 GiB, else a file in the output folder; DIR: a file there.") var activationCache = "auto"

    static func main(arguments: [String]) throws {}

    /// --train-on, or what --mask-prompt implies.
    var chatTargets: ChatTargets { trainOn ?? (maskPrompt ? .allAssistant : .all) }

    var reducerOptions: ReducerOptions? {
        guard let reducerKeep else { return nil }
        var r = ReducerOptions()
        r.keep = reducerKeep; r.importance = reducerImportance; r.every = reducerEvery; r.warmup = reducerWarmup
        r.batch = reducerBatch; r.sampleLayers = reducerSampleLayers; r.ema = reducerEma; r.mode = reducerMode
        r.sharedGradient = reducerAGrad
        r.budget = reducerBudget
        return r
    }

    var activationCacheSetting: ActivationCache.Setting {
        switch activationCache {
        case "off": .off
        case "auto": .auto
        default: .directory(activationCache)
        }
    }

    var trainingOptions: TrainingOptions {
        var o = TrainingOptions()
        o.iterations = iters; o.batchSize = batchSize; o.gradientAccumulation = gradAccumulation
        o.learningRate = learningRate; o.schedule = schedule; o.warmup = warmup
        o.adam.beta1 = beta1; o.adam.beta2 = beta2; o.adam.epsilon = epsilon; o.adam.weightDecay = weightDecay
        o.clipNorm = clipNorm; o.validateEvery = stepsPerEval; o.validationBatches = valBatches; o.saveEvery = saveEvery
        o.seed = seed; o.maxSeqLen = maxSeqLength; o.maskPrompt = maskPrompt; o.chatTargets = chatTargets; o.gradientCheckpointing = gradCheckpoint
        o.keepBest = keepBest; o.earlyStoppingPatience = earlyStoppingPatience; o.earlyStoppingMinDelta = earlyStoppingMinDelta
        return o
    }

    func validate() throws {
        guard iters > 0, batchSize > 0, gradAccumulation > 0, maxSeqLength > 1 else {
            throw ValidationError("--iters, --batch-size, --grad-accumulation must be positive and --max-seq-length > 1")
        }
        guard divergenceFactor == 0 || divergenceFactor > 1 else { throw ValidationError("--divergence-factor is 0 (off) or above 1, got \(divergenceFactor)") }
        guard warmup >= 0, learningRate.isFinite, learningRate > 0 else {
            throw ValidationError("--warmup must be ≥ 0 and --learning-rate a positive number (got \(warmup), \(learningRate))")
        }
        if let trainOn, !maskPrompt, trainOn != .all {
            throw ValidationError("--no-mask-prompt trains every token; it cannot be combined with --train-on \(trainOn.rawValue)")
        }
        guard earlyStoppingPatience >= 0, earlyStoppingMinDelta >= 0, earlyStoppingMinDelta.isFinite else {
            throw ValidationError("--early-stopping-patience and --early-stopping-min-delta must be ≥ 0")
        }
        guard earlyStoppingPatience == 0 || stepsPerEval > 0 else {
            throw ValidationError("--early-stopping-patience needs validations during the run: give --steps-per-eval N > 0")
        }
        if let keep = reducerKeep {
            guard keep > 0, keep < 1 || keep == keep.rounded() else { throw ValidationError("--reducer-keep is a count (1, 2, …) or a fraction in (0, 1)") }
            if let budget = reducerBudget, !(budget > 0 && budget <= 1) { throw ValidationError("--reducer-budget is a fraction in (0, 1]") }
            guard reducerEvery > 0, reducerWarmup >= 0, reducerBatch > 0, (0..<1).contains(reducerEma) else {
                throw ValidationError("--reducer-every and --reducer-batch must be positive, --reducer-ema in [0, 1)")
            }
        }
    }

    func run() throws {
        // This run owns its folder: a second run into it fails at once, and a new run never
        // mixes into an earlier one's files.
        if let resume, !FileManager.default.fileExists(atPath: resume) { throw ValidationError("--resume \(resume): no such run folder") }
        let lock = try RunFolderLock(resume.map(Checkpoint.runFolder) ?? output)
        defer { withExtendedLifetime(lock) {} }
        if resume == nil { try lock.requireNoEarlierRun(unless: overwrite) }
        for input in [model, data] { try OutputFolder.refuseOverlap(output: lock.folder, input: input) }
        let lm = try precision.load(model)
        emit(lm.decoder.weights.precision.summary)
        emit(lm.decoder.weights.storageSummary)
        guard maxSeqLength <= lm.decoder.config.contextLength else {
            throw ValidationError("--max-seq-length \(maxSeqLength) exceeds the model's context of \(lm.decoder.config.contextLength)")
        }
        let adapters = try Adapters(config: try adapter.config(for: lm.decoder.config, seed: seed), model: lm.decoder.config, weights: lm.decoder.weights)
        if reducerKeep != nil, let reason = adapters.notReducibleByLayer { throw ValidationError("--reducer-keep: \(reason)") }
        var dataOptions = Dataset.Options()
        dataOptions.maxSeqLen = maxSeqLength
        dataOptions.maskPrompt = maskPrompt
        dataOptions.chatTargets = chatTargets
        dataOptions.skipBadLines = skipBadLines
        let template = try? lm.chatTemplate()
        let train = try Dataset(path: (data as NSString).appendingPathComponent("train.jsonl"), tokenizer: lm.tokenizer, chatTemplate: template, options: dataOptions)
        let validPath = (data as NSString).appendingPathComponent("valid.jsonl")
        let valid = FileManager.default.fileExists(atPath: validPath)
            ? try Dataset(path: validPath, tokenizer: lm.tokenizer, chatTemplate: template, options: dataOptions) : nil
        if earlyStoppingPatience > 0 && valid == nil {
            throw ValidationError("--early-stopping-patience needs validation data: \(validPath) does not exist")
        }
        if valid == nil { emit("data: no \(validPath): the run reports no validation loss and keeps no best adapter") }
        let report = ParameterReport(adapters: adapters, base: lm.decoder.config)
        emit(report.text)
        for d in [train.report] + (valid.map { [$0.report] } ?? []) {
            emit("data: \(d.path): \(d.examples) examples, \(d.tokens) tokens (\(d.targets) trained), \(d.truncated) truncated to \(maxSeqLength)"
                  + (d.skipped.isEmpty ? "" : ", \(d.skipped.count) bad lines skipped (first: \(d.skipped[0]))"))
        }
        // --overwrite: the earlier run's files go only now, once the model and data have loaded.
        if resume == nil && overwrite { try lock.removeEarlierRun() }
        let trainer = Trainer(decoder: lm.decoder, adapters: adapters, options: trainingOptions, train: train.examples,
                              validation: valid?.examples, output: resume.map(Checkpoint.runFolder) ?? output, reducer: reducerOptions,
                              activationCache: activationCacheSetting, divergenceFactor: divergenceFactor)
        emit(String(format: "batches of %d: %.1f%% of the computed tokens are real (the rest is padding to each batch's longest example)",
                    batchSize, 100 * trainer.train.paddingEfficiency()))
        if let resume {
            try trainer.resume(from: resume)
            if trainer.isFinished {
                // Nothing to run: the run's summary and adapters stay as it left them.
                return emit("\(resume): the run already ended at step \(trainer.step)\(trainer.stoppedEarly ? " (early stopping)" : ""); nothing to do")
            }
            emit("resumed from step \(trainer.step) in \(resume)")
        }
        try writeRunDescription(trainer: trainer, report: report, datasets: [train.report] + (valid.map { [$0.report] } ?? []))
        // An analysis of an earlier adapter in this folder would describe the wrong one.
        try? FileManager.default.removeItem(atPath: (trainer.output as NSString).appendingPathComponent(AdapterAnalysis.fileName))
        var progress = ProgressDisplay(total: iters, every: stepsPerReport, start: trainer.step)
        var finalValidationLoss: Double?
        try trainer.run { metrics in
            if metrics.step == 1, let initial = trainer.initialValidationLoss { emit(String(format: "step 0: val %.4f (before training)", initial)) }
            if let loss = metrics.validationLoss { finalValidationLoss = loss }
            progress.update(metrics)
        }
        progress.finish()
        let tracker = trainer.validationTracker
        try RunSummary(parameters: ParameterReport(adapters: trainer.adapters, base: lm.decoder.config), steps: trainer.step - progress.startStep, tokens: progress.tokens, stepSeconds: progress.stepSeconds,
                       wallSeconds: progress.elapsed, peakResidentMiB: Double(peakResidentBytes()) / 1_048_576,
                       initialValidationLoss: trainer.initialValidationLoss, finalValidationLoss: finalValidationLoss,
                       bestStep: tracker.bestStep, bestValidationLoss: tracker.bestLoss, stoppedEarlyAtStep: trainer.stoppedEarly ? trainer.step : nil,
                       reducer: trainer.reducer.map { .init(rounds: $0.state.rounds, scoringSeconds: $0.state.overheadSeconds,
                                                            activeLayers: trainer.adapters.activeLayers) })
            .write(to: trainer.output)
        if trainer.stoppedEarly {
            emit(String(format: "early stopping at step %d of %d: %d validations without lowering %.4f by more than %g", trainer.step, iters,
                        tracker.validationsWithoutImprovement, tracker.reference ?? .nan, earlyStoppingMinDelta))
        }
        if keepBest, let step = tracker.bestStep, let loss = tracker.bestLoss {
            emit(String(format: "best: step %d, val %.4f: %@", step, loss, trainer.bestAdapterFolder))
        }
        if let reducer = trainer.reducer {
            let total = progress.elapsed
            emit(String(format: "reducer: %d rounds, %.1f s scoring = %.1f%% of the run's %.1f s; active layers %@", reducer.state.rounds,
                        reducer.state.overheadSeconds, 100 * reducer.state.overheadSeconds / max(total, 1e-9), total,
                        trainer.adapters.activeLayers.map(String.init).joined(separator: ",")))
        }
        if let cache = trainer.activationCache { emit(cache.summary) }
        emit("adapter: \(trainer.adapterFolder)")
        ReportCommand.writeAfterRun(trainer.output)
    }

    private func writeRunDescription(trainer: Trainer, report: ParameterReport, datasets: [DatasetReport]) throws {
        struct Run: Encodable {
            let model: String, data: String, computeDtype: String, baseWeights: String, adapter: AdapterConfig, training: TrainingOptions
            let parameters: ParameterReport, datasets: [DatasetReport], reducer: ReducerOptions?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(atPath: trainer.output, withIntermediateDirectories: true)
        try writeAtomically(try encoder.encode(Run(model: model, data: data, computeDtype: trainer.decoder.weights.precision.rawValue,
                                                   baseWeights: trainer.decoder.weights.storageSummary, adapter: trainer.adapters.config, training: trainer.options,
                                                   parameters: report, datasets: datasets, reducer: trainer.reducer?.options)),
                            to: (trainer.output as NSString).appendingPathComponent("run.json"))
    }
}

extension LearningRateSchedule.Kind: ExpressibleByArgument {}
extension ChatTargets: ExpressibleByArgument {}

extension ReducerOptions.Importance: ExpressibleByArgument {}
extension ReducerOptions.Mode: ExpressibleByArgument {}
extension ReducerOptions.SharedGradient: ExpressibleByArgument {}

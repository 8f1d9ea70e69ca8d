/// The options of a training run (the adapter's own are in `AdapterConfig`). Defaults follow
/// mlx-lm's LoRA trainer where it has one (iterations 1000, batch 4, learning rate 1e-5 for
/// mlx-lm; here 2e-4, the usual LoRA rate in PEFT recipes).
public struct TrainingOptions: Codable, Sendable, Equatable {
    public var iterations = 1000
    public var batchSize = 4
    public var gradientAccumulation = 1
    public var learningRate: Float = 2e-4
    public var schedule: LearningRateSchedule.Kind = .cosine
    public var warmup = 0
    public var adam = AdamW.Options()
    /// Global gradient-norm clip; 0 turns it off.
    public var clipNorm: Float = 1
    public var validateEvery = 100
    /// Validation batches per evaluation; 0 means the whole validation set.
    public var validationBatches = 0
    public var saveEvery = 100
    public var seed: UInt64 = 0
    public var maxSeqLen = 2048
    public var maskPrompt = true
    public var chatTargets = ChatTargets.allAssistant
    public var gradientCheckpointing = false
    /// Keep the adapter with the lowest validation loss in `adapter-best/`.
    public var keepBest = true
    /// Stop after this many validations in a row without an improvement of more than
    /// `earlyStoppingMinDelta` (0: never).
    public var earlyStoppingPatience = 0
    public var earlyStoppingMinDelta = 0.0

    public init() {}
}

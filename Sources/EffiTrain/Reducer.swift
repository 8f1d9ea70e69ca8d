import EffiAdapters
import EffiCore
import EffiModel
import Foundation

/// The Reducer's options (DESIGN.md §1): every `every` steps (first at step `warmup`), score
/// each adapted layer's importance and keep the `keep` best trainable.
public struct ReducerOptions: Codable, Sendable, Equatable {
    public enum Importance: String, Codable, Sendable, CaseIterable {
        /// score_l = loss(layer l's branches suppressed) − loss(all), on the fixed scoring batch.
        case suppression
        /// score_l ≈ −Σ_sites ⟨∂L/∂y, Δy⟩, from the training backward (and one full-depth
        /// refresh per round for the layers the truncated backward no longer reaches).
        case taylor
        /// A seeded random ranking: the control.
        case random
    }
    public enum Mode: String, Codable, Sendable, CaseIterable { case freeze, drop }
    public enum SharedGradient: String, Codable, Sendable, CaseIterable { case active, all }

    /// Layers kept trainable: a count (≥ 1) or a fraction of the adapted layers (rounded up).
    public var keep: Double = 0.25
    public var importance: Importance = .taylor
    public var every = 50
    public var warmup = 10
    /// Training examples in the scoring batch (a fixed seeded sample; the validation set only measures).
    public var batch = 8
    /// Layers probed per suppression round (0: all; else a seeded random subset).
    public var sampleLayers = 0
    /// Weight of the previous scores in the moving average: ema ← ema·old + (1 − ema)·new.
    public var ema = 0.5
    public var mode: Mode = .freeze
    public var sharedGradient: SharedGradient = .active
    /// `select: budget`: the backward may cover only this fraction of the layers (from the top),
    /// so the cutoff is fixed first and the best layers above it are kept; nil: importance only.
    public var budget: Double?

    public init() {}

    /// The lowest layer the budget lets the backward reach (0 without a budget).
    public func cutoff(layers: Int) -> Int {
        guard let budget else { return 0 }
        return layers - max(1, Int((budget * Double(layers)).rounded(.up)))
    }

    public func keptCount(of layers: Int) -> Int {
        keep >= 1 ? min(layers, Int(keep)) : max(1, Int((keep * Double(layers)).rounded(.up)))
    }
}

/// What the Reducer carries between rounds; saved in checkpoints.
public struct ReducerState: Codable, Sendable, Equatable {
    /// Smoothed scores per layer (nil: not scored yet or not adapted).
    public var scores: [Double?]
    /// Σ ⟨∂L/∂y, Δy⟩ per layer from the training backward since the last round (each step's
    /// value is that of its mean loss, whatever its micro-batches), and the number of steps whose
    /// backward reached each layer.
    public var taylorSums: [Double]
    public var taylorCounts: [Int]
    public var rounds = 0
    public var overheadSeconds = 0.0
}

/// One scoring round's outcome, for metrics.jsonl.
public struct ReducerRound: Codable, Sendable {
    public var scores: [Double?]
    public var active: [Int]
    public var seconds: Double
}

public final class Reducer {
    public let options: ReducerOptions
    public private(set) var state: ReducerState
    let adapters: Adapters
    let scoringBatch: TrainingBatch?
    let seed: UInt64

    /// `scoringBatch`: a fixed batch of training examples (suppression and the Taylor refresh need one).
    public init(options: ReducerOptions, adapters: Adapters, scoringBatch: TrainingBatch?, seed: UInt64) {
        self.options = options
        self.adapters = adapters
        self.scoringBatch = scoringBatch
        self.seed = seed
        let layers = adapters.modelConfig.layers
        state = ReducerState(scores: Array(repeating: nil, count: layers), taylorSums: Array(repeating: 0, count: layers),
                             taylorCounts: Array(repeating: 0, count: layers))
    }

    public func restore(_ saved: ReducerState, modes: [LayerMode]) {
        state = saved
        for (layer, mode) in modes.enumerated() { adapters.setMode(mode, layer: layer) }
    }

    public func isRoundDue(afterStep step: Int) -> Bool {
        step == options.warmup || (step > options.warmup && (step - options.warmup) % options.every == 0)
    }

    /// Collects the Taylor terms a training step produced for free: one term per step for each
    /// adapted layer its backward reached.
    public func record(_ outcome: StepOutcome) {
        guard options.importance == .taylor, let dots = outcome.branchDots else { return }
        let adapted = Set(adapters.adaptedLayers)
        for l in (outcome.backwardStop ?? dots.count)..<dots.count where adapted.contains(l) {
            state.taylorSums[l] += dots[l]
            state.taylorCounts[l] += 1
        }
    }

    /// Scores the layers, smooths, and keeps the best `keep` trainable. A layer never scored
    /// (sampled suppression has not probed it yet) is not dropped: it is frozen until it is.
    public func round(pass: TrainingPass) -> ReducerRound {
        let start = monotonicSeconds()
        let layers = adapters.adaptedLayers.filter { adapters.layerModes[$0] != .dropped }
        var raw: [Int: Double] = [:]
        switch options.importance {
        case .random:
            var rng = SplitMix64(seed: seed &+ UInt64(state.rounds) &* 0x9E37_79B9)
            for l in layers { raw[l] = Double(rng.nextFloat(in: 0...1)) }
        case .suppression:
            raw = suppressionScores(layers: layers, pass: pass)
        case .taylor:
            raw = taylorScores(layers: layers, pass: pass)
        }
        for (l, score) in raw {
            state.scores[l] = state.scores[l].map { options.ema * $0 + (1 - options.ema) * score } ?? score
        }
        let cutoff = options.cutoff(layers: adapters.modelConfig.layers)
        let ranked = layers.filter { $0 >= cutoff }.sorted { (state.scores[$0] ?? -.infinity, $0) > (state.scores[$1] ?? -.infinity, $1) }
        let kept = Set(ranked.prefix(options.keptCount(of: adapters.adaptedLayers.count)))
        for l in layers {
            let dropped = options.mode == .drop && state.scores[l] != nil
            adapters.setMode(kept.contains(l) ? .active : (dropped ? .dropped : .frozen), layer: l)
        }
        state.rounds += 1
        let seconds = monotonicSeconds() - start
        state.overheadSeconds += seconds
        return ReducerRound(scores: state.scores, active: kept.sorted(), seconds: seconds)
    }

    /// The layers a suppression round probes: all, or `sampleLayers` of them chosen by the seed,
    /// those never scored first.
    func probedLayers(_ layers: [Int]) -> [Int] {
        guard options.sampleLayers > 0 && options.sampleLayers < layers.count else { return layers }
        var rng = SplitMix64(seed: seed &+ 0x5EED &+ UInt64(state.rounds))
        let shuffled = layers.shuffled(using: &rng)
        return Array((shuffled.filter { state.scores[$0] == nil } + shuffled.filter { state.scores[$0] != nil }).prefix(options.sampleLayers))
    }

    /// score_l = loss(l suppressed) − loss(all) on the scoring batch, in evaluation mode; probes
    /// reuse the baseline forward below l and go from the top layer down.
    public func suppressionScores(layers: [Int], pass: TrainingPass) -> [Int: Double] {
        guard let batch = scoringBatch else { return [:] }
        let base = pass.run(batch, adapter: adapters, lossScale: 0, backward: false)
        let baseLoss = base.nllSum / Double(max(base.count, 1))
        var scores: [Int: Double] = [:]
        for l in probedLayers(layers).sorted(by: >) {
            var probe = PassContext.inference
            probe.suppressedLayer = l
            let loss = pass.lossFrom(layer: l, batch: batch, adapter: adapters.pass(probe, gradients: nil))
            scores[l] = loss.nllSum / Double(max(loss.count, 1)) - baseLoss
        }
        return scores
    }

    /// −mean ⟨∂L/∂y, Δy⟩ per layer from the training backward since the last round; layers it did
    /// not reach are refreshed by one full-depth backward on the scoring batch, in evaluation
    /// mode and into no parameter gradient (the training step's are not touched).
    public func taylorScores(layers: [Int], pass: TrainingPass, forceRefresh: Bool = false) -> [Int: Double] {
        var scores: [Int: Double] = [:]
        let missing = forceRefresh ? layers : layers.filter { state.taylorCounts[$0] == 0 }
        if !missing.isEmpty, let batch = scoringBatch {
            var refresh = PassContext.inference
            refresh.depth = .contributing
            refresh.measuresBranchDots = true
            let probe = adapters.pass(refresh, gradients: nil)
            pass.run(batch, adapter: probe, lossScale: 1 / Float(max(batch.targetCount, 1)))
            for l in missing { scores[l] = -probe.results.branchDots[l] }
        }
        for l in layers where state.taylorCounts[l] > 0 && !forceRefresh {
            scores[l] = -state.taylorSums[l] / Double(state.taylorCounts[l])
        }
        for l in layers { state.taylorSums[l] = 0; state.taylorCounts[l] = 0 }
        return scores
    }
}

/// Spearman's rank correlation of two score lists (no ties expected).
public func spearmanCorrelation(_ a: [Double], _ b: [Double]) -> Double {
    func ranks(_ v: [Double]) -> [Double] {
        var r = [Double](repeating: 0, count: v.count)
        for (rank, i) in v.indices.sorted(by: { v[$0] < v[$1] }).enumerated() { r[i] = Double(rank) }
        return r
    }
    let ra = ranks(a), rb = ranks(b), n = Double(a.count)
    guard n > 1 else { return 0 }
    let d2 = zip(ra, rb).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    return 1 - 6 * d2 / (n * (n * n - 1))
}

import EffiAdapters
import EffiCore
import EffiFormats
import EffiModel
import Foundation

/// One optimiser step, the only one: `train`, `bench train` and the tests all call it. Over the
/// step's micro-batches: forward, loss and backward of each (from the activation cache's layer
/// when it holds every example of the micro-batch), the loss averaged over all their targets
/// (L = Σ nll / Σ targets + the routers' balance losses), the global gradient-norm clip, AdamW.
public final class TrainingStep {
    public let decoder: Decoder
    public let adapters: Adapters
    public let options: TrainingOptions
    /// The training examples the micro-batches' indices refer to.
    public let data: Batcher
    public let pass: TrainingPass
    public let optimizer: AdamW
    /// The step's parameter gradients (zeroed at its start, filled by its micro-batches' passes).
    public let gradients: Gradients
    /// From the Reducer's options: whether the shared A's learn from frozen layers, and whether
    /// the backward measures the Taylor terms.
    let sharedGradient: ReducerOptions.SharedGradient
    let measuresBranchDots: Bool
    public let activationCacheSetting: ActivationCache.Setting
    let runFolder: String
    /// Where the inputs of the lowest contributing layer are kept (see `ActivationCache`); made
    /// when a step first starts above layer 0.
    public private(set) var activationCache: ActivationCache?

    public init(decoder: Decoder, adapters: Adapters, options: TrainingOptions, data: Batcher, reducer: ReducerOptions?,
                activationCache: ActivationCache.Setting, runFolder: String) {
        self.decoder = decoder
        self.adapters = adapters
        self.options = options
        self.data = data
        pass = TrainingPass(decoder: decoder, checkpointing: options.gradientCheckpointing)
        optimizer = AdamW(options: options.adam)
        gradients = Gradients(adapters.parameters)
        sharedGradient = reducer?.sharedGradient ?? .active
        measuresBranchDots = reducer?.importance == .taylor
        activationCacheSetting = activationCache
        self.runFolder = runFolder
    }

    /// The context of the run's micro-batch `index`.
    public func context(microBatch index: Int) -> PassContext {
        var c = PassContext()
        c.training = true
        c.microBatch = index
        c.balanceScale = 1 / Float(options.gradientAccumulation)
        c.sharedProjectionsLearnFromFrozenLayers = sharedGradient == .all
        c.measuresBranchDots = measuresBranchDots
        return c
    }

    /// Runs one step over the micro-batches `indices` (example indices of each), the first being
    /// the run's micro-batch `firstMicroBatch` (it selects the dropout masks); `label` starts the
    /// errors (e.g. "step 12").
    public func run(_ indices: [[Int]], firstMicroBatch: Int, learningRate: Float, label: String) throws -> StepOutcome {
        let batches = indices.map(data.makeBatch)
        let targets = batches.reduce(0) { $0 + $1.targetCount }
        gradients.zero()
        var outcome = StepOutcome(tokens: batches.reduce(0) { $0 + ($1.keyMask?.filter { $0 }.count ?? $1.tokens.count) }, targets: targets)
        var nll = 0.0, auxiliary = 0.0
        for (i, batch) in batches.enumerated() {
            let context = context(microBatch: firstMicroBatch + i)
            let adapter = adapters.pass(context, gradients: gradients), results = adapter.results
            nll += try forwardBackward(batch, indices: indices[i], lossScale: 1 / Float(max(targets, 1)), adapter: adapter)
            if let layer = pass.firstNonFiniteLayer {
                throw TrainingError(description: "\(label): a NaN or infinity appeared in the output of layer \(layer)")
            }
            auxiliary += results.auxiliaryLoss
            outcome.backwardStop = adapter.lowestLayerNeedingGradients
            if context.measuresBranchDots {
                outcome.branchDots = zip(outcome.branchDots ?? results.branchDots.map { _ in 0 }, results.branchDots).map { $0 + $1 }
            }
            for (slot, statistics) in results.routerStatistics { outcome.routerStatistics[slot.key.name, default: .init()].merge(statistics) }
            outcome.adapterSeconds += results.adapterSeconds
        }
        outcome.loss = nll / Double(max(targets, 1)) + auxiliary
        guard outcome.loss.isFinite else { throw TrainingError(description: "\(label): the loss is \(outcome.loss)") }
        outcome.gradientNorm = try clipGradients(label: label)
        optimizer.step(adapters.parameters, gradients: gradients, learningRate: learningRate)
        return outcome
    }

    /// The global norm of the trainable parameters' gradients, before clipping them to `clipNorm`.
    private func clipGradients(label: String) throws -> Double {
        let trainable = adapters.parameters.filter(\.trainable)
        var squares = 0.0
        for p in trainable {
            let g = gradients[p]
            var s = 0.0
            for i in 0..<g.count { s += Double(g[i]) * Double(g[i]) }
            guard s.isFinite else { throw TrainingError(description: "\(label): the gradient of \(p.name) holds a NaN or infinity") }
            squares += s
        }
        let norm = squares.squareRoot()
        if options.clipNorm > 0 && norm > Double(options.clipNorm) {
            let factor = Float(Double(options.clipNorm) / norm)
            for p in trainable { let g = gradients[p]; for i in 0..<g.count { g[i] *= factor } }
        }
        return norm
    }

    /// Forward, loss and backward of one micro-batch; with the activation cache, from the lowest
    /// contributing layer when every example's input there is held (the same numbers: the layers
    /// below run as the base model alone), else from the embeddings, keeping those inputs.
    private func forwardBackward(_ batch: TrainingBatch, indices: [Int], lossScale: Float, adapter: AdapterPass) throws -> Double {
        guard let cache = try cache() else { return pass.run(batch, adapter: adapter, lossScale: lossScale).nllSum }
        let layer = cache.layer
        let states = Tensor(shape: [batch.batch * batch.seqLen, decoder.config.modelWidth])
        if cache.gather(indices, seqLen: batch.seqLen, into: states) {
            return pass.run(batch, adapter: adapter, lossScale: lossScale, start: (layer, states)).nllSum
        }
        let nll = pass.run(batch, adapter: adapter, lossScale: lossScale).nllSum
        cache.store(indices, seqLen: batch.seqLen, from: pass.layerInput(layer))
        return nll
    }

    /// The activation cache at the lowest contributing layer (made, or moved up when the cutoff
    /// rose: held inputs run through the newly dropped layers); nil when off or when layer 0 contributes.
    private func cache() throws -> ActivationCache? {
        guard activationCacheSetting != .off, let layer = adapters.lowestContributingLayer, layer > 0 else { return nil }
        if activationCache == nil {
            activationCache = try ActivationCache(setting: activationCacheSetting, examples: data.examples, width: decoder.config.modelWidth,
                                                  layer: layer, runFolder: runFolder)
        }
        let cache = activationCache!
        if layer > cache.layer {
            cache.advance(to: layer, chunk: options.batchSize) { examples, _, states in
                pass.forwardBase(states, layers: cache.layer..<layer, batch: data.makeBatch(examples))
            }
        }
        cache.use(layer: layer)
        return cache
    }

    /// Rebuilds the activation cache a checkpoint describes: each held example's input of the
    /// layer, recomputed as the base model from the embeddings, so a resumed run starts the same
    /// batches from the cache as the uninterrupted one. `source` (the checkpoint's state file)
    /// names the file in the error about a snapshot that does not fit this run.
    public func restoreActivationCache(_ snapshot: ActivationCache.Snapshot, source: String) throws {
        guard activationCacheSetting != .off else { return }
        let cache = try ActivationCache(setting: activationCacheSetting, examples: data.examples, width: decoder.config.modelWidth,
                                        layer: snapshot.layer, runFolder: runFolder)!
        if let problem = cache.problem(with: snapshot, layers: decoder.config.layers) { throw FormatError(source, problem) }
        cache.restore(snapshot, chunk: options.batchSize) { examples, _, states in
            states.copy(from: pass.baseInput(of: snapshot.layer, batch: data.makeBatch(examples)))
        }
        activationCache = cache
    }
}

/// What one step did, for the metrics and the Reducer.
public struct StepOutcome: Sendable {
    /// Mean next-token NLL over the step's targets plus the auxiliary (load-balancing) loss.
    public var loss = 0.0
    /// The global gradient norm before clipping.
    public var gradientNorm = 0.0
    /// Tokens in the step's batches (padding excluded) and the loss targets among them.
    public var tokens: Int
    public var targets: Int
    /// Per layer, Σ_sites ⟨∂L/∂y, Δy⟩ of the step's loss (summed over its micro-batches), when
    /// measured; valid for the layers from `backwardStop` up.
    public var branchDots: [Double]?
    public var backwardStop: Int?
    /// Router health over the step's real tokens, by router.
    public var routerStatistics: [String: RouterStatistics] = [:]
    public var adapterSeconds = 0.0

    init(tokens: Int, targets: Int) { self.tokens = tokens; self.targets = targets }
}

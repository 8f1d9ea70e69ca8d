import EffiCore
import EffiModel

/// Everything a pass asks of the adapters besides the tensors, passed by value: set by whoever
/// starts the pass (the training step, a Reducer probe, an evaluation), never stored on the adapter.
public struct PassContext: Sendable {
    /// Dropout and router statistics apply only while training.
    public var training = false
    /// Selects the dropout masks, a deterministic function of (seed, micro-batch, layer, input).
    public var microBatch = 0
    /// Factor on the load-balancing loss and its gradient (1 / micro-batches per step).
    public var balanceScale: Float = 1
    /// A layer whose branches the forward leaves out (suppression probes).
    public var suppressedLayer: Int?
    /// How deep the backward goes.
    public var depth: BackwardDepth = .trainable
    /// The shared A's learn from every non-dropped layer (`a_grad: all`), not only the active ones;
    /// the backward then reaches the lowest contributing layer.
    public var sharedProjectionsLearnFromFrozenLayers = false
    /// Whether the backward measures Σ_sites ⟨∂L/∂y, Δy⟩ per layer (the Taylor importance).
    public var measuresBranchDots = false

    public enum BackwardDepth: Sendable {
        /// To the lowest layer with a parameter that learns.
        case trainable
        /// To the lowest layer whose branches contribute (Taylor refresh passes).
        case contributing
    }

    public init() {}

    /// Evaluation: no dropout, nothing measured.
    public static let inference = PassContext()

    /// Training with the defaults (micro-batch 0, balance scale 1, backward to the trainable layers).
    public static let training = { var c = PassContext(); c.training = true; return c }()
}
/// What a pass produced, filled by the adapters during it: parameter gradients (into
/// `gradients`, when given: a training step shares one over its micro-batches), the auxiliary
/// loss, Σ⟨∂L/∂y, Δy⟩ per layer, router statistics over the real (not padding) tokens, and the
/// time spent in the adapters.
public final class PassResults {
    public let gradients: Gradients?
    /// Per layer, when the context measures them.
    public private(set) var branchDots: [Double]
    /// Per router of the last forward of each layer: a recomputed forward (gradient checkpointing)
    /// replaces its entry rather than adding to it.
    private var balanceLosses: [RouterSlot: Float] = [:]
    public private(set) var routerStatistics: [RouterSlot: RouterStatistics] = [:]
    public internal(set) var adapterSeconds = 0.0

    init(gradients: Gradients?, layers: Int) {
        self.gradients = gradients
        branchDots = Array(repeating: 0, count: layers)
    }

    /// Σ of the routers' load-balancing losses (already × the balance scale), in router order so
    /// a resumed run adds the same terms in the same order.
    public var auxiliaryLoss: Double {
        balanceLosses.keys.sorted().reduce(0) { $0 + Double(balanceLosses[$1]!) }
    }

    func addBranchDot(_ value: Double, layer: Int) { branchDots[layer] += value }
    func setBalanceLoss(_ value: Float, router: RouterSlot) { balanceLosses[router] = value }
    func setStatistics(_ value: RouterStatistics, router: RouterSlot) { routerStatistics[router] = value }
}

/// A router's place: layer, the input tensor its sites read, its parameter's key (for reports).
public struct RouterSlot: Hashable, Comparable, Sendable {
    public let layer: Int
    public let input: SiteInput
    public let key: ParameterKey
    var order: (Int, Int, String) { (layer, SiteInput.allCases.firstIndex(of: input)!, key.name) }
    public static func < (a: RouterSlot, b: RouterSlot) -> Bool { a.order < b.order }
}

/// The adapters bound to one pass: what `TrainingPass` and the decoder call. It carries the
/// pass's context, its results, and what each group's forward keeps for its backward (u = A·x
/// and router weights), so passes never share state through the adapters.
public final class AdapterPass: DecoderAdapter {
    public let adapters: Adapters
    public let context: PassContext
    public let results: PassResults
    /// Per layer and input (index layer · inputs + input): the forward's saved tensors.
    private var saved: [Int: GroupActivations] = [:]

    init(_ adapters: Adapters, context: PassContext, gradients: Gradients?) {
        self.adapters = adapters
        self.context = context
        results = PassResults(gradients: gradients, layers: adapters.modelConfig.layers)
    }

    /// The saved tensors of a group in this pass (made by its first forward).
    func activations(layer: Int, input: SiteInput) -> GroupActivations {
        let key = layer * SiteInput.allCases.count + SiteInput.allCases.firstIndex(of: input)!
        if let existing = saved[key] { return existing }
        let made = GroupActivations()
        saved[key] = made
        return made
    }

    public func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor], rows: TokenRows) {
        let start = monotonicSeconds()
        adapters.forward(layer: layer, input: input, x: x, outputs: outputs, rows: rows, in: self)
        results.adapterSeconds += monotonicSeconds() - start
    }

    public func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, rows: TokenRows) {
        let start = monotonicSeconds()
        adapters.backward(layer: layer, input: input, x: x, outputGradients: outputGradients, dx: dx, rows: rows, in: self)
        results.adapterSeconds += monotonicSeconds() - start
    }

    public var lowestLayerNeedingGradients: Int? { adapters.lowestLayerNeedingGradients(for: context) }
    public var mixesTokensOfASequence: Bool { adapters.mixesTokensOfASequence }
}

extension Adapters {
    /// The adapters bound to a pass with this context; parameter gradients go into `gradients`
    /// (none when nil), everything else into the pass's `results`.
    public func pass(_ context: PassContext, gradients: Gradients?) -> AdapterPass {
        AdapterPass(self, context: context, gradients: gradients)
    }
}

import EffiCore
import EffiModel

/// The adapters of one model: per adapted layer and input tensor an `InputGroup` of branches,
/// one per site, built by the configured method (Methods/); every parameter in one registry with
/// typed keys; the Reducer's per-layer modes. A pass's settings, results and saved tensors
/// come in as an `AdapterPass` argument (bind one with `pass(_:gradients:)`); used directly as a
/// `DecoderAdapter` it is the inference form: no dropout, no gradients, nothing kept.
public final class Adapters: DecoderAdapter {
    public let config: AdapterConfig
    public let modelConfig: ModelConfig
    /// Every parameter, in a stable order: those shared across layers first.
    public let parameters: [Parameter]
    /// groups[layer][input]
    let groups: [[SiteInput: InputGroup]]
    /// Per layer: whether its branches train, are frozen (forward only) or dropped (removed).
    public private(set) var layerModes: [LayerMode]

    /// `weights`: the base model's, for methods built from their site's frozen W (none of the
    /// current ones; such a method's builder throws without them).
    public init(config: AdapterConfig, model: ModelConfig, weights: ModelWeights? = nil) throws {
        try config.validate(for: model)
        self.config = config
        modelConfig = model
        let builder = AdapterBuilder(config: config), method = config.method.builder
        var groups = Array(repeating: [SiteInput: InputGroup](), count: model.layers)
        for layer in config.adaptedLayers(of: model) {
            for input in SiteInput.allCases {
                let sites = input.sites.filter(config.targets.contains)
                if sites.isEmpty { continue }
                let branches = try sites.map { site in
                    try method.branch(for: SiteSlot(layer: layer, site: site, model: model, config: config,
                                                baseWeight: weights?.layers[layer].weight(of: site)), builder)
                }
                groups[layer][input] = InputGroup(layer: layer, input: input, branches: branches, config: config)
            }
        }
        self.groups = groups
        parameters = builder.parameters.filter { $0.key.layer == nil } + builder.parameters.filter { $0.key.layer != nil }
        layerModes = Array(repeating: .active, count: model.layers)
    }

    /// Looks a parameter up by its file name (for readers of files).
    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }

    /// Looks a parameter up by its key.
    public func parameter(_ key: ParameterKey) -> Parameter? { parameters.first { $0.key == key } }

    /// The lowest layer whose branches contribute to the forward (adapted and not dropped); nil
    /// when none does. Below it the model runs as the base alone, so a layer's input there is a
    /// fixed function of the example (what the activation cache keeps).
    public var lowestContributingLayer: Int? {
        groups.indices.first { !groups[$0].isEmpty && layerModes[$0] != .dropped }
    }

    /// Where a backward with this context stops: the lowest layer with a parameter of its own that
    /// trains (the shared A's learn from the layers above it), or the lowest contributing layer
    /// when the context asks for full depth or for shared A's that learn from frozen layers.
    public func lowestLayerNeedingGradients(for context: PassContext) -> Int? {
        if context.depth == .contributing || context.sharedProjectionsLearnFromFrozenLayers, let l = lowestContributingLayer { return l }
        let learning = Set(parameters.filter(\.trainable).compactMap(\.key.layer))
        return groups.indices.first(where: learning.contains)
    }

    /// The branches of `layer` reading `input` add their Δy into `outputs`; `pass` nil is inference.
    func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor], rows: TokenRows, in pass: AdapterPass?) {
        let context = pass?.context ?? .inference
        guard let g = groups[layer][input], layerModes[layer] != .dropped, context.suppressedLayer != layer else { return }
        g.forward(x: x, outputs: outputs, rows: rows, context: context, results: pass?.results,
                  saved: pass?.activations(layer: layer, input: input) ?? GroupActivations())
    }

    /// The backward of `forward` in the same pass (a suppressed branch contributed nothing and
    /// gets nothing).
    func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, rows: TokenRows, in pass: AdapterPass?) {
        guard let pass else { return }
        let context = pass.context
        guard let g = groups[layer][input], layerModes[layer] != .dropped, context.suppressedLayer != layer else { return }
        // The shared A's learn from active layers only, unless a_grad: all.
        let sharedLearns = layerModes[layer] == .active || context.sharedProjectionsLearnFromFrozenLayers
        g.backward(x: x, outputGradients: outputGradients, dx: dx, rows: rows, sharedLearns: sharedLearns, context: context,
                   results: pass.results, saved: pass.activations(layer: layer, input: input))
    }

    // MARK: DecoderAdapter (inference)

    public func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor], rows: TokenRows) {
        forward(layer: layer, input: input, x: x, outputs: outputs, rows: rows, in: nil)
    }

    /// Inference has no backward (`lowestLayerNeedingGradients` is nil): bind a pass to train.
    public func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, rows: TokenRows) {}

    /// None: inference computes no gradients (bind a pass with `pass(_:gradients:)` to train).
    public var lowestLayerNeedingGradients: Int? { nil }

    public var mixesTokensOfASequence: Bool {
        groups.contains { $0.values.contains { $0.branches.contains(where: \.mixesTokensOfASequence) } }
    }

    // MARK: Reducer modes

    /// Sets a layer's mode. Dropping is final: a dropped layer stays dropped.
    public func setMode(_ mode: LayerMode, layer: Int) {
        guard layerModes[layer] != .dropped else { return }
        layerModes[layer] = mode
        for p in parameters(ofLayer: layer) { p.trainable = mode == .active && !p.regenerable }
    }
}

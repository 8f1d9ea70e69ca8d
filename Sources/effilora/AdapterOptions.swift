import ArgumentParser
import EffiAdapters
import EffiModel

/// The adapter's options, declared once for `train`, `params` and `bench train` (and the same
/// keys in YAML config files).
struct AdapterOptions: ParsableArguments {
    @Option(help: "lora | effilora | lora-fa | vera | hydralora | dora | lily.") var method = AdapterConfig.Method.effilora
    @Option(help: "Adapter rank r (default 8; lily: 32, PEFT's default).") var rank: Int?
    @Option(help: "LoRA alpha; the scale is alpha / r.") var alpha: Float = 16
    @Flag(inversion: .prefixedNo, help: "rsLoRA scale alpha / √r.") var rslora = false
    @Option(help: "Dropout on the adapters' input.") var dropout: Float = 0
    @Option(parsing: .upToNextOption, help: "Sites: q k v o gate up down, their _proj names, or all.") var targets = ["all"]
    @Option(help: "Layers: all, last N, a-b, or a comma list.") var layers = "all"
    @Option(help: "Adapt only the last N layers (mlx-lm's --num-layers); overrides --layers.") var numLayers: Int?
    @Option(help: "A's initialisation: kaiming | gaussian | orthogonal.") var initialisation = AdapterConfig.Initialisation.kaiming
    @Flag(help: "Start every layer's own A from the same matrix (one per site) instead of one per layer (ALoRA's control).") var sameInitialA = false
    @Option(help: "EffiLoRA's A sharing: input | type | none.") var share = AdapterConfig.Share.input
    @Option(help: "B experts per site (effilora, hydralora).") var experts = 1
    @Option(help: "Router: soft | topk.") var router = AdapterConfig.RouterKind.soft
    @Option(help: "Experts kept per token by the topk router.") var topK = 1
    @Option(help: "Load-balancing loss coefficient.") var balance: Float = 0
    @Option(help: "Lily: adjacent layers sharing one A.") var strideA = 1
    @Option(help: "Lily: B experts shared by all layers of a module type.") var numB = 2
    @Option(help: "Lily: the factor on its update (it has no alpha / r).") var scaling: Float = 1

    /// --rank, or the method's default.
    var effectiveRank: Int { rank ?? (method == .lily ? 32 : 8) }

    /// The configuration for a model, checked against it (`seed`: the run's).
    func config(for m: ModelConfig, seed: UInt64 = 0) throws -> AdapterConfig {
        var c = AdapterConfig()
        c.method = method; c.rank = effectiveRank; c.alpha = alpha; c.rslora = rslora; c.dropout = dropout
        c.targets = try AdapterConfig.parseTargets(targets)
        c.layers = try numLayers.map { try AdapterConfig.parseLayers("last \($0)", count: m.layers) } ?? AdapterConfig.parseLayers(layers, count: m.layers)
        c.initialisation = initialisation; c.seed = seed; c.share = share; c.experts = experts
        c.router = router; c.topK = topK; c.balance = balance
        c.sameInitialA = sameInitialA ? true : nil
        if method != .lily && (strideA != 1 || numB != 2 || scaling != 1) {
            throw ValidationError("--stride-a, --num-b and --scaling are Lily's options; method \(method.rawValue) has none of them")
        }
        if method == .lily {
            var lily = AdapterConfig.LilyOptions()
            lily.strideA = strideA; lily.numB = numB; lily.scaling = scaling
            c.lily = lily
        }
        try c.validate(for: m)
        return c
    }
}

extension AdapterConfig.Method: ExpressibleByArgument {}
extension AdapterConfig.Initialisation: ExpressibleByArgument {}
extension AdapterConfig.Share: ExpressibleByArgument {}
extension AdapterConfig.RouterKind: ExpressibleByArgument {}

import EffiCore
import EffiModel

/// What a method builds at each adapted site, as mlx-lm's `from_base`: a branch, with the
/// parameters it needs made (or, when shared, found) through the builder; an error when it
/// cannot (say, it needs the site's base weight and was given none). A new method is one type
/// conforming to this, one case in `AdapterConfig.Method`, and one arm in `builder` below.
protocol AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) throws -> AdapterBranch
}

extension AdapterConfig.Method {
    var builder: AdapterMethod.Type {
        switch self {
        case .lora: LoRA.self
        case .effilora: EffiLoRA.self
        case .loraFA: LoRAFA.self
        case .vera: VeRA.self
        case .hydralora: HydraLoRA.self
        case .dora: DoRA.self
        case .lily: Lily.self
        }
    }
}

/// One adapted site as a method sees it while building. `baseWeight` is the site's frozen W
/// [d_out, d_in] when the adapters are built on a loaded model (methods that rescale W, such
/// as DoRA, need it); nil when only the model's shape is known.
struct SiteSlot {
    let layer: Int
    let site: Site
    let model: ModelConfig
    let config: AdapterConfig
    let baseWeight: FrozenLinear?

    var inputWidth: Int { site.inputWidth(model) }
    var outputWidth: Int { site.outputWidth(model) }
    var rank: Int { config.rank }
    func key(_ role: ParameterKey.SiteRole) -> ParameterKey { .site(layer: layer, site: site, role: role) }
}

/// Makes the adapters' parameters, each seeded by its file name (so values do not depend on the
/// order they are made in), and hands back the existing one when a key is asked for again
/// (shared A's, shared routers).
final class AdapterBuilder {
    let config: AdapterConfig
    private(set) var parameters: [Parameter] = []
    private var byKey: [ParameterKey: Parameter] = [:]

    init(config: AdapterConfig) { self.config = config }

    func parameter(_ key: ParameterKey, shape: [Int], trainable: Bool, streamName: String? = nil,
                   initialise: (Tensor, inout SplitMix64) -> Void) -> Parameter {
        if let existing = byKey[key] { return existing }
        let p = Parameter(key: key, shape: shape, trainable: trainable)
        var rng = Initializer.stream(seed: config.seed, name: streamName ?? key.name)
        initialise(p.value, &rng)
        parameters.append(p)
        byKey[key] = p
        return p
    }

    /// An A [r, d_in] initialised by the configured method (kaiming, gaussian, orthogonal); with
    /// `sameInitialA` a layer's own A draws from its site's stream, the same in every layer.
    func projection(_ key: ParameterKey, inputWidth: Int, trainable: Bool) -> Parameter {
        let c = config
        var streamName: String?
        if c.sameInitialA == true, case .site(_, let site, .a) = key { streamName = "A.initial.\(site.rawValue)" }
        return parameter(key, shape: [c.rank, inputWidth], trainable: trainable, streamName: streamName) { t, rng in
            Initializer.projection(t, method: c.initialisation, rank: c.rank, rng: &rng)
        }
    }

    /// A trainable B [d_out, r] at zero, so training starts from the base model.
    func zeroB(_ key: ParameterKey, outputWidth: Int) -> Parameter {
        parameter(key, shape: [outputWidth, config.rank], trainable: true) { _, _ in }
    }

    /// A trainable router R [E, d_in], U(−1/√d_in, 1/√d_in).
    func router(_ key: ParameterKey, inputWidth: Int) -> Parameter {
        parameter(key, shape: [config.effectiveExperts, inputWidth], trainable: true) { t, rng in
            Initializer.uniform(t, bound: 1 / Float(inputWidth).squareRoot(), rng: &rng)
        }
    }
}

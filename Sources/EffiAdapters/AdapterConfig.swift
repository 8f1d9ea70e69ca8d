import Foundation
import EffiModel

/// Which adapter, and every option the methods of DESIGN.md §1 leave open.
public struct AdapterConfig: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable {
        /// y = W x + s · B A x, A and B per site (PEFT's LoRA).
        case lora
        /// y = W x + s · B_l A_g x with one A per share group; with experts > 1,
        /// y = W x + s · Σ_e w_e(x) B_{l,e} A_g x and one router per layer and input tensor.
        case effilora
        /// LoRA with A frozen at its random initialisation.
        case loraFA = "lora-fa"
        /// y = W x + Λ_b B Λ_d A x with A, B frozen, random and shared; b, d trainable vectors.
        case vera
        /// A per site, E B-heads and a router per site.
        case hydralora
        /// LoRA with the weight's row norms re-learned: W' = m ∘ (W + s B A) / ‖W + s B A‖_row (PEFT's use_dora).
        case dora
        /// PEFT's Lily: an A per stride_A adjacent layers, num_B B experts shared by every layer of
        /// a module type, mixed by a per-site router on A x averaged over each sequence's tokens.
        case lily
    }

    /// Lily's options, PEFT's names and defaults.
    public struct LilyOptions: Codable, Sendable, Equatable {
        /// Adjacent adapted layers sharing one A (per module type).
        public var strideA = 1
        /// B experts shared by all layers of a module type.
        public var numB = 2
        /// The factor on the update (Lily has no alpha / r).
        public var scaling: Float = 1
        public init() {}
    }
    public enum Share: String, Codable, Sendable, CaseIterable {
        /// One A per input width: the model width (q, k, v, o, gate, up) and the FFN width (down).
        case input
        /// One A per module type, across layers.
        case type
        /// One A per site (plain LoRA).
        case none
    }
    public enum Initialisation: String, Codable, Sendable, CaseIterable {
        /// U(−1/√d_in, 1/√d_in), PEFT's default (kaiming-uniform with a = √5).
        case kaiming
        /// N(0, 1/r²), PEFT's "gaussian".
        case gaussian
        /// Orthonormal rows.
        case orthogonal
    }
    public enum RouterKind: String, Codable, Sendable, CaseIterable {
        /// w = softmax(R x) over all experts.
        case soft
        /// softmax over the top_k logits, zero elsewhere.
        case topk
    }

    public var method: Method = .effilora
    public var rank = 8
    public var alpha: Float = 16
    public var rslora = false
    public var dropout: Float = 0
    public var targets: [Site] = Site.allCases
    /// Adapted layers, ascending; empty means all.
    public var layers: [Int] = []
    public var initialisation: Initialisation = .kaiming
    public var seed: UInt64 = 0
    public var share: Share = .input
    public var experts = 1
    public var router: RouterKind = .soft
    public var topK = 1
    /// Coefficient of the load-balancing loss c · E · Σ_e P_e² (P_e: mean router weight of expert e).
    public var balance: Float = 0
    /// VeRA's initial value of the d vector.
    public var veraInitialScale: Float = 0.1
    /// Lily's options (nil for the other methods).
    public var lily: LilyOptions?
    /// Every layer's own A starts from the same matrix (one per site), where by default each layer
    /// draws its own: the control of ALoRA's argument that A's look alike across layers because
    /// they start alike. nil (the default, left out of files) means each layer its own.
    public var sameInitialA: Bool?

    public init() {}

    /// The LoRA scale s: alpha / r, or alpha / √r with rsLoRA; VeRA has none (1); Lily its `scaling`.
    public var scale: Float {
        switch method {
        case .vera: 1
        case .lily: lily?.scaling ?? 1
        default: rslora ? alpha / Float(rank).squareRoot() : alpha / Float(rank)
        }
    }

    /// B-heads per site.
    public var effectiveExperts: Int { method == .effilora || method == .hydralora ? experts : 1 }

    public func adaptedLayers(of config: ModelConfig) -> [Int] { layers.isEmpty ? Array(0..<config.layers) : layers }

    /// B experts per site at most (EffiLoRA's and HydraLoRA's routers choose among a few).
    public static let maximumExperts = 64
    /// VeRA's rank at most (its shared matrices are r × width).
    public static let maximumVeRARank = 16_384

    /// Checks the options against a model, naming the option that is wrong.
    public func validate(for config: ModelConfig) throws {
        func fail(_ message: String) -> AdapterError { AdapterError(message) }
        // A rank above the model width cannot add anything (each site's update B A has rank at
        // most min(d_in, d_out) ≤ width) and only allocates.
        // VeRA's rank is the size of its frozen shared matrices (its paper uses up to 1024), so it
        // may exceed the width, within a bound that keeps them allocatable.
        let maximumRank = method == .vera ? Self.maximumVeRARank : config.modelWidth
        guard (1...maximumRank).contains(rank) else {
            throw fail("rank must be in 1...\(maximumRank) (\(method == .vera ? "VeRA's limit" : "the model width")), got \(rank)")
        }
        guard alpha.isFinite else { throw fail("alpha must be a finite number, got \(alpha)") }
        guard experts <= Self.maximumExperts else { throw fail("experts must be ≤ \(Self.maximumExperts), got \(experts)") }
        guard (0..<1).contains(dropout) else { throw fail("dropout must be in [0, 1), got \(dropout)") }
        guard !targets.isEmpty else { throw fail("no target sites") }
        guard experts >= 1 else { throw fail("experts must be ≥ 1, got \(experts)") }
        if method == .hydralora && experts < 2 { throw fail("hydralora needs experts ≥ 2") }
        if experts > 1 && method != .effilora && method != .hydralora {
            throw fail("experts = \(experts) needs method effilora or hydralora, not \(method.rawValue)")
        }
        if share != .input && method != .effilora { throw fail("share = \(share.rawValue) applies to method effilora only") }
        if method == .lily {
            guard let lily else { throw fail("method lily needs its options (stride_A, num_B, scaling)") }
            guard lily.strideA >= 1 else { throw fail("stride_A must be ≥ 1, got \(lily.strideA)") }
            guard lily.numB >= 1 else { throw fail("num_B must be ≥ 1, got \(lily.numB)") }
            guard dropout == 0 else { throw fail("Lily has no dropout (PEFT's has none); got dropout \(dropout)") }
            guard balance == 0, router == .soft, topK == 1 else {
                throw fail("balance, router and top_k are EffiLoRA's router options; Lily's router is its own (a softmax averaged per sequence)")
            }
        } else if lily != nil {
            throw fail("Lily's options (stride_A, num_B, scaling) apply to method lily only, not \(method.rawValue)")
        }
        if sameInitialA == true && (method == .vera || method == .effilora && share != .none) {
            throw fail("same_initial_a starts each layer's own A alike; method \(method.rawValue)\(method == .effilora ? " with share \(share.rawValue)" : "") has no per-layer A (EffiLoRA's: share none)")
        }
        if router == .topk && !(1...experts).contains(topK) { throw fail("top_k must be in 1...\(experts), got \(topK)") }
        if let bad = layers.first(where: { !(0..<config.layers).contains($0) }) {
            throw fail("layer \(bad) does not exist; the model has layers 0...\(config.layers - 1)")
        }
        guard layers == layers.sorted(), Set(layers).count == layers.count else { throw fail("layers must be ascending and distinct") }
    }

    /// Parses target names: short (`q k v o gate up down`), Hugging Face (`q_proj`, …), or `all`.
    public static func parseTargets(_ names: [String]) throws -> [Site] {
        var sites = Set<Site>()
        for raw in names.flatMap({ $0.split(whereSeparator: { $0 == "," || $0 == " " }) }).map(String.init) {
            if raw == "all" { sites.formUnion(Site.allCases); continue }
            let short = raw.hasSuffix("_proj") ? String(raw.dropLast(5)) : raw
            guard let site = Site(rawValue: short) else {
                throw AdapterError("unknown target \(raw); use q k v o gate up down, their _proj names, or all")
            }
            sites.insert(site)
        }
        return sites.sorted()
    }

    /// Parses a layer selection: `all`, `last N`/`last:N`, `a-b`, or a comma list, for a model of `count` layers.
    public static func parseLayers(_ text: String, count: Int) throws -> [Int] {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s == "all" { return [] }
        if s.hasPrefix("last") {
            guard let n = Int(s.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: ": "))), (1...count).contains(n) else {
                throw AdapterError("layers \(text): expected last N with N in 1...\(count)")
            }
            return Array(count - n..<count)
        }
        var layers = Set<Int>()
        for part in s.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ $0 != nil }), bounds.first!! <= bounds.last!! else {
                throw AdapterError("layers \(text): expected all, last N, a-b, or a comma list of layers")
            }
            // Bounds first: a range is expanded only within the model.
            for bound in [bounds.first!!, bounds.last!!] where !(0..<count).contains(bound) {
                throw AdapterError("layers \(text): layer \(bound) does not exist; the model has layers 0...\(count - 1)")
            }
            layers.formUnion(bounds.first!!...bounds.last!!)
        }
        return layers.sorted()
    }
}

/// A bad adapter option or file, with what was expected.
public struct AdapterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

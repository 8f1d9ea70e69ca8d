import EffiCore
import EffiModel

/// The adapters of one model: every method of `AdapterConfig.Method` as one structure. Per layer
/// and input tensor (q/k/v; o; gate/up; down) an `InputGroup` holds the distinct A's its sites
/// read (one when A is shared, so u = A·x is computed once and reused), its routers, and its
/// sites. Per site:
///   single B:  y += s · B u
///   experts:   y += s · Σ_e w_e ∘ (B_e u),  w = softmax(R x) (or top-k), w_e scaling rows
///   VeRA:      y += b ∘ (B (d ∘ u))       (A, B frozen and shared; d, b trainable)
/// with u = A · dropout(x).
public final class Adapters: DecoderAdapter {
    public let config: AdapterConfig
    public let modelConfig: ModelConfig
    /// Every parameter, in a stable order (shared A's first).
    public private(set) var parameters: [Parameter] = []
    /// Set by the trainer to the micro-batch index: selects the dropout masks, a deterministic
    /// function of (seed, micro-batch, layer, input). The sites reading one input share its mask
    /// (PEFT draws one per module), as they share u = A · dropout(x).
    public var microBatch = 0
    /// Dropout and router statistics apply only while training.
    public var training = false
    /// Factor on the load-balancing gradient (1 / micro-batches per step).
    public var balanceScale: Float = 1
    public private(set) var routerStatistics: [String: RouterStatistics] = [:]
    /// The load-balancing loss of the last forward, per router (a recomputed forward overwrites
    /// its own entry rather than adding to it).
    private var balanceLosses: [String: Float] = [:]
    /// Σ of the routers' load-balancing losses since `resetAuxiliaryLoss` (already × balanceScale).
    public var auxiliaryLoss: Double {
        // In key order: dictionary order differs between processes, and a resumed run must add
        // the same terms in the same order.
        balanceLosses.keys.sorted().reduce(0) { $0 + Double(balanceLosses[$1]!) }
    }
    public func resetAuxiliaryLoss() { balanceLosses = [:] }

    final class SiteAdapter {
        let site: Site
        let projection: Int
        let heads: [Parameter]
        let router: Int?
        let veraIn: Parameter?, veraOut: Parameter?
        init(site: Site, projection: Int, heads: [Parameter], router: Int?, veraIn: Parameter?, veraOut: Parameter?) {
            self.site = site; self.projection = projection; self.heads = heads; self.router = router
            self.veraIn = veraIn; self.veraOut = veraOut
        }
    }

    final class InputGroup {
        let layer: Int, input: SiteInput
        var projections: [Parameter] = []
        var routers: [(parameter: Parameter, name: String)] = []
        var sites: [SiteAdapter] = []
        // Saved by the forward for the backward.
        var u: [Tensor] = [], weights: [Tensor] = []
        init(layer: Int, input: SiteInput) { self.layer = layer; self.input = input }
    }

    /// groups[layer][input]
    var groups: [[SiteInput: InputGroup]]

    // MARK: Reducer state (see Adapters+Reducer.swift)
    /// Per layer: whether its branches train, are frozen (forward only) or dropped (removed).
    public internal(set) var layerModes: [LayerMode]
    /// A layer whose branches the forward leaves out (suppression probes).
    public var suppressedLayer: Int?
    /// The shared A's gradient from every non-dropped layer (`a_grad: all`) instead of only the
    /// active ones; then the backward runs to the lowest adapted layer.
    public var sharedGradientFromAllLayers = false
    /// Makes the backward reach the lowest non-dropped layer (Taylor refresh passes).
    public var fullDepthBackward = false
    /// When set, the backward adds Σ_sites ⟨∂L/∂y, Δy⟩ of each layer (Δy: the branch's output) here.
    public var branchGradientDot: [Double]?

    public init(config: AdapterConfig, model: ModelConfig) throws {
        try config.validate(for: model)
        self.config = config
        modelConfig = model
        groups = Array(repeating: [:], count: model.layers)
        layerModes = Array(repeating: .active, count: model.layers)
        build()
    }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }

    // MARK: - construction

    private func build() {
        let c = config, m = modelConfig, r = c.rank
        var shared: [String: Parameter] = [:]
        func add(_ name: String, _ shape: [Int], trainable: Bool, initialise: (Tensor, inout SplitMix64) -> Void) -> Parameter {
            let p = Parameter(name: name, shape: shape, trainable: trainable)
            var rng = Initializer.stream(seed: c.seed, name: name)
            initialise(p.value, &rng)
            parameters.append(p)
            return p
        }
        func projection(_ layer: Int, _ site: Site) -> Parameter {
            let din = site.inputWidth(m)
            let key: String
            switch c.method == .vera ? .type : c.effectiveShare {
            case .input: key = site == .down ? "A.ffn_width" : "A.model_width"
            case .type: key = c.method == .vera ? "vera.A.\(din)" : "A.\(site.rawValue)"
            case .none: key = "layers.\(layer).\(site.rawValue).A"
            }
            if let p = shared[key] { return p }
            let trainable = c.method != .loraFA && c.method != .vera
            let p = add(key, [r, din], trainable: trainable) { t, rng in
                c.method == .vera ? Initializer.uniform(t, bound: 1 / Float(din).squareRoot(), rng: &rng)
                    : Initializer.projection(t, method: c.initialisation, rank: r, rng: &rng)
            }
            shared[key] = p
            return p
        }
        let experts = c.effectiveExperts
        for layer in c.adaptedLayers(of: m) {
            for input in SiteInput.allCases {
                let sites = input.sites.filter(c.targets.contains)
                if sites.isEmpty { continue }
                let g = InputGroup(layer: layer, input: input)
                func routerIndex(_ name: String) -> Int {
                    if let i = g.routers.firstIndex(where: { $0.name == name }) { return i }
                    let din = sites[0].inputWidth(m)
                    let p = add(name, [experts, din], trainable: true) { t, rng in
                        Initializer.uniform(t, bound: 1 / Float(din).squareRoot(), rng: &rng)
                    }
                    g.routers.append((p, name))
                    return g.routers.count - 1
                }
                for site in sites {
                    let a = projection(layer, site)
                    if !g.projections.contains(where: { $0 === a }) { g.projections.append(a) }
                    let prefix = "layers.\(layer).\(site.rawValue)"
                    let dout = site.outputWidth(m)
                    var heads: [Parameter] = [], router: Int?, veraIn: Parameter?, veraOut: Parameter?
                    if c.method == .vera {
                        heads = [shared["vera.B.\(dout)"] ?? add("vera.B.\(dout)", [dout, r], trainable: false) { t, rng in
                            Initializer.uniform(t, bound: 1 / Float(r).squareRoot(), rng: &rng)
                        }]
                        shared["vera.B.\(dout)"] = heads[0]
                        veraIn = add(prefix + ".vera_d", [r], trainable: true) { t, _ in
                            t.data.update(repeating: c.veraInitialScale, count: t.count)
                        }
                        veraOut = add(prefix + ".vera_b", [dout], trainable: true) { _, _ in }
                    } else {
                        heads = (0..<experts).map { e in
                            add(experts == 1 ? prefix + ".B" : prefix + ".B.\(e)", [dout, r], trainable: true) { _, _ in }
                        }
                        if experts > 1 {
                            router = routerIndex(c.method == .hydralora ? prefix + ".router" : "layers.\(layer).router.\(input.rawValue)")
                        }
                    }
                    g.sites.append(SiteAdapter(site: site, projection: g.projections.firstIndex { $0 === a }!, heads: heads,
                                               router: router, veraIn: veraIn, veraOut: veraOut))
                }
                groups[layer][input] = g
            }
        }
        // Shared A's first: stable, readable order for files and reports.
        parameters = parameters.filter { !$0.name.hasPrefix("layers.") } + parameters.filter { $0.name.hasPrefix("layers.") }
    }

    /// The lowest layer whose branches contribute to the forward (adapted and not dropped); nil
    /// when none does. Below it the model runs as the base alone, so a layer's input there is a
    /// fixed function of the example (what the activation cache keeps).
    public var lowestContributingLayer: Int? {
        groups.indices.first { !groups[$0].isEmpty && layerModes[$0] != .dropped }
    }

    // MARK: - DecoderAdapter

    public var lowestLayerNeedingGradients: Int? {
        if fullDepthBackward || sharedGradientFromAllLayers {
            if let l = lowestContributingLayer { return l }
        }
        return groups.indices.first { l in
            groups[l].values.contains { g in
                g.routers.contains { $0.parameter.trainable } || g.projections.contains { $0.trainable && !$0.name.hasPrefix("A.") }
                    || g.sites.contains { s in s.heads.contains(where: \.trainable) || s.veraIn?.trainable == true || s.veraOut?.trainable == true }
            }
        }
    }

    public func forward(layer: Int, input: SiteInput, x: Tensor, outputs: [Site: Tensor]) {
        guard let g = groups[layer][input], layerModes[layer] != .dropped, suppressedLayer != layer else { return }
        let n = x.rows, r = config.rank, s = config.scale
        let xd = dropout(g, x)?.x ?? x
        if g.u.count != g.projections.count || g.u.first?.rows != n {
            g.u = g.projections.map { _ in Tensor(shape: [n, r]) }
            g.weights = g.routers.map { Tensor(shape: [n, $0.parameter.value.rows]) }
        }
        for (i, a) in g.projections.enumerated() { MatMul.nt(xd, a.value, into: g.u[i]) }
        for (j, router) in g.routers.enumerated() {
            Router.forward(x: x, router: router.parameter.value, kind: config.router, topK: config.topK, weights: g.weights[j])
            if training { routerStatistics[router.name, default: RouterStatistics()].add(g.weights[j]) }
            if training && config.balance > 0 {
                balanceLosses["\(layer).\(router.name)"] = config.balance * balanceScale * Router.balanceLoss(g.weights[j])
            }
        }
        for site in g.sites {
            guard let y = outputs[site.site] else { continue }
            let u = g.u[site.projection]
            if let d = site.veraIn, let b = site.veraOut {
                let p = veraProduct(u: u, d: d.value, B: site.heads[0].value)
                addScaledColumns(p, b.value, into: y)
            } else if let router = site.router {
                let z = Tensor(shape: [n, r])
                for (e, head) in site.heads.enumerated() {
                    scaleRows(u, by: g.weights[router], column: e, into: z)
                    MatMul.nt(z, head.value, into: y, alpha: s, accumulate: true)
                }
            } else {
                MatMul.nt(u, site.heads[0].value, into: y, alpha: s, accumulate: true)
            }
        }
    }

    public func backward(layer: Int, input: SiteInput, x: Tensor, outputGradients: [Site: Tensor], dx: Tensor) {
        guard let g = groups[layer][input], layerModes[layer] != .dropped else { return }
        // The shared A learns from active layers only, unless a_grad: all.
        let sharedLearns = layerModes[layer] == .active || sharedGradientFromAllLayers
        var branchDot = 0.0
        let n = x.rows, r = config.rank, s = config.scale
        let du = g.projections.map { _ in Tensor(shape: [n, r]) }
        let dw = g.routers.map { Tensor(shape: [n, $0.parameter.value.rows]) }
        for site in g.sites {
            guard let dy = outputGradients[site.site] else { continue }
            let u = g.u[site.projection]
            if let d = site.veraIn, let b = site.veraOut {
                // p = B (d ∘ u);  y += b ∘ p:  db = Σ_t dy ∘ p,  dt = (dy ∘ b) B,  dd = Σ_t dt ∘ u,  du += dt ∘ d
                let B = site.heads[0].value
                let p = veraProduct(u: u, d: d.value, B: B)
                if b.trainable { addColumnSums(dy, times: p, into: b.gradient) }
                let dp = Tensor(shape: dy.shape)
                scaleColumns(dy, b.value, into: dp)
                let dt = Tensor(shape: [n, r])
                MatMul.nn(dp, B, into: dt)
                if d.trainable { addColumnSums(dt, times: u, into: d.gradient) }
                addScaledColumns(dt, d.value, into: du[site.projection])
                if branchGradientDot != nil { branchDot += dot(dp, p) }  // ⟨dy, b ∘ p⟩
            } else if let router = site.router {
                let z = Tensor(shape: [n, r]), dz = Tensor(shape: [n, r]), w = g.weights[router]
                for (e, head) in site.heads.enumerated() {
                    scaleRows(u, by: w, column: e, into: z)
                    if head.trainable { MatMul.tn(dy, z, into: head.gradient, alpha: s, accumulate: true) }
                    MatMul.nn(dy, head.value, into: dz, alpha: s)
                    if branchGradientDot != nil { branchDot += dot(dz, z) }  // ⟨dy, s B_e z_e⟩
                    // du += w_e ∘ dz;  dw[:, e] += ⟨dz_t, u_t⟩
                    Router.accumulateExpertGradient(dz: dz, u: u, weights: w, expert: e, du: du[site.projection], dWeights: dw[router])
                }
            } else {
                if site.heads[0].trainable { MatMul.tn(dy, u, into: site.heads[0].gradient, alpha: s, accumulate: true) }
                if branchGradientDot != nil {
                    // ⟨dy, s B u⟩ = ⟨s dy B, u⟩, from the product du needs anyway.
                    let part = Tensor(shape: [n, r])
                    MatMul.nn(dy, site.heads[0].value, into: part, alpha: s)
                    branchDot += dot(part, u)
                    for i in 0..<part.count { du[site.projection][i] += part[i] }
                } else {
                    MatMul.nn(dy, site.heads[0].value, into: du[site.projection], alpha: s, accumulate: true)
                }
            }
        }
        for (j, router) in g.routers.enumerated() {
            if training && config.balance > 0 {
                Router.addBalanceGradient(weights: g.weights[j], coefficient: config.balance * balanceScale, dWeights: dw[j])
            }
            Router.backward(x: x, router: router.parameter, weights: g.weights[j], dWeights: dw[j], dx: dx)
        }
        branchGradientDot?[layer] += branchDot
        // The dropout mask is drawn again (the same draw) rather than kept from the forward.
        let dropped = dropout(g, x)
        for (i, a) in g.projections.enumerated() {
            let learns = a.trainable && (sharedLearns || !a.name.hasPrefix("A."))
            if learns { MatMul.tn(du[i], dropped?.x ?? x, into: a.gradient, accumulate: true) }
            if let mask = dropped?.mask {
                let dxd = Tensor(shape: x.shape)
                MatMul.nn(du[i], a.value, into: dxd)
                for e in 0..<dx.count { dx[e] += mask[e] * dxd[e] }
            } else {
                MatMul.nn(du[i], a.value, into: dx, accumulate: true)
            }
        }
    }

    public func resetRouterStatistics() { routerStatistics = [:] }

    // MARK: - helpers

    /// dropout(x) = x ∘ mask with mask ∈ {0, 1/(1 − p)} drawn from (seed, micro-batch, layer,
    /// input), so the backward draws the same mask again; nil when not training or p = 0.
    private func dropout(_ g: InputGroup, _ x: Tensor) -> (x: Tensor, mask: Tensor)? {
        guard training, config.dropout > 0 else { return nil }
        var rng = Initializer.stream(seed: config.seed &+ UInt64(microBatch) &* 0x9E37_79B9, name: "dropout.\(g.layer).\(g.input.rawValue)")
        let mask = Tensor(shape: x.shape), out = Tensor(shape: x.shape), keep = 1 / (1 - config.dropout)
        for i in 0..<mask.count {
            mask[i] = rng.nextFloat(in: 0...1) < config.dropout ? 0 : keep
            out[i] = x[i] * mask[i]
        }
        return (out, mask)
    }

    /// B (d ∘ u) for VeRA: [n, d_out].
    private func veraProduct(u: Tensor, d: Tensor, B: Tensor) -> Tensor {
        let t = Tensor(shape: u.shape), p = Tensor(shape: [u.rows, B.rows])
        scaleColumns(u, d, into: t)
        MatMul.nt(t, B, into: p)
        return p
    }
}

/// Σ_i a[i] · b[i], accumulated in Double.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
    var sum = 0.0
    for i in 0..<a.count { sum += Double(a[i]) * Double(b[i]) }
    return sum
}

/// out[t, j] = a[t, j] · v[j].
func scaleColumns(_ a: Tensor, _ v: Tensor, into out: Tensor) {
    let c = a.columns
    for t in 0..<a.rows { for j in 0..<c { out[t * c + j] = a[t * c + j] * v[j] } }
}

/// y[t, j] += a[t, j] · v[j].
func addScaledColumns(_ a: Tensor, _ v: Tensor, into y: Tensor) {
    let c = a.columns
    for t in 0..<a.rows { for j in 0..<c { y[t * c + j] += a[t * c + j] * v[j] } }
}

/// g[j] += Σ_t a[t, j] · b[t, j].
func addColumnSums(_ a: Tensor, times b: Tensor, into g: Tensor) {
    let c = a.columns
    for t in 0..<a.rows { for j in 0..<c { g[j] += a[t * c + j] * b[t * c + j] } }
}

/// z[t, :] = w[t, column] · u[t, :].
func scaleRows(_ u: Tensor, by w: Tensor, column: Int, into z: Tensor) {
    let r = u.columns, e = w.columns
    for t in 0..<u.rows {
        let f = w[t * e + column]
        for j in 0..<r { z[t * r + j] = f * u[t * r + j] }
    }
}

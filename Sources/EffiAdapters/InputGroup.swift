import EffiCore
import EffiModel

/// The branches of one layer's sites that read one input tensor x (q/k/v; o; gate/up; down): the
/// distinct A's they read — u = A · dropout(x) is computed once per A and reused by every branch
/// reading it, forward and backward (EffiLoRA's shared projection) — the routers weighing their
/// experts, and the dropout mask they share (PEFT draws one per module).
final class InputGroup {
    let layer: Int, input: SiteInput
    let branches: [AdapterBranch]
    /// Distinct, in the order the branches first read them; per branch, the index of its A and router.
    let projections: [Parameter], routers: [Parameter]
    private let projectionOf: [Int], routerOf: [Int?]
    private let config: AdapterConfig

    init(layer: Int, input: SiteInput, branches: [AdapterBranch], config: AdapterConfig) {
        self.layer = layer; self.input = input; self.branches = branches; self.config = config
        var projections: [Parameter] = [], routers: [Parameter] = []
        func index(_ p: Parameter, in list: inout [Parameter]) -> Int {
            if let i = list.firstIndex(where: { $0 === p }) { return i }
            list.append(p)
            return list.count - 1
        }
        projectionOf = branches.map { index($0.projection, in: &projections) }
        routerOf = branches.map { b in b.router.map { index($0, in: &routers) } }
        self.projections = projections
        self.routers = routers
    }

    private func slot(_ router: Parameter) -> RouterSlot { RouterSlot(layer: layer, input: input, key: router.key) }

    func forward(x: Tensor, outputs: [Site: Tensor], rows: TokenRows, context: PassContext, results: PassResults?, saved: GroupActivations) {
        let n = x.rows, keyMask = rows.keyMask
        let xd = dropout(x, context)?.x ?? x
        if saved.u.count != projections.count || saved.u.first?.rows != n {
            saved.u = projections.map { Tensor(shape: [n, $0.value.rows]) }
            saved.weights = routers.map { Tensor(shape: [n, $0.value.rows]) }
        }
        let u = saved.u, weights = saved.weights
        for (i, a) in projections.enumerated() { MatMul.nt(xd, a.value, into: u[i]) }
        for (j, router) in routers.enumerated() {
            Router.forward(x: x, router: router.value, kind: config.router, topK: config.topK, weights: weights[j])
            guard context.training, let results else { continue }
            results.setStatistics(RouterStatistics(weights[j], keyMask: keyMask), router: slot(router))
            if config.balance > 0 {
                results.setBalanceLoss(config.balance * context.balanceScale * Router.balanceLoss(weights[j], keyMask: keyMask), router: slot(router))
            }
        }
        for (i, branch) in branches.enumerated() {
            guard let y = outputs[branch.site] else { continue }
            branch.forward(BranchInput(x: xd, u: u[projectionOf[i]], routerWeights: routerOf[i].map { weights[$0] }, rows: rows), into: y)
        }
    }

    /// `sharedLearns`: whether A's shared across layers take a gradient from this layer.
    func backward(x: Tensor, outputGradients: [Site: Tensor], dx: Tensor, rows: TokenRows, sharedLearns: Bool,
                  context: PassContext, results: PassResults, saved: GroupActivations) {
        precondition(saved.u.first?.rows == x.rows, "layer \(layer) \(input.rawValue): the backward needs this pass's forward first")
        let n = x.rows, keyMask = rows.keyMask, gradients = results.gradients, u = saved.u, weights = saved.weights
        // The branches read xd = dropout(x) = x ∘ mask and add ∂L/∂xd into dxd; dx += dxd ∘ mask.
        // The mask is drawn again (the same draw) rather than kept from the forward.
        let dropped = dropout(x, context)
        let xd = dropped?.x ?? x, dxd = dropped == nil ? dx : Tensor(shape: x.shape)
        let du = projections.map { Tensor(shape: [n, $0.value.rows]) }
        let dw = routers.map { Tensor(shape: [n, $0.value.rows]) }
        var branchDot = 0.0
        for (i, branch) in branches.enumerated() {
            guard let dy = outputGradients[branch.site] else { continue }
            let input = BranchInput(x: xd, u: u[projectionOf[i]], routerWeights: routerOf[i].map { weights[$0] }, rows: rows)
            branchDot += branch.backward(BranchBackward(input: input, dx: dxd, dy: dy, du: du[projectionOf[i]],
                                                        dRouterWeights: routerOf[i].map { dw[$0] },
                                                        gradients: gradients, measuresDot: context.measuresBranchDots))
        }
        for (j, router) in routers.enumerated() {
            if context.training && config.balance > 0 {
                Router.addBalanceGradient(weights: weights[j], keyMask: keyMask, coefficient: config.balance * context.balanceScale, dWeights: dw[j])
            }
            Router.backward(x: x, router: router.value, gradient: gradients?.accumulator(router), weights: weights[j], dWeights: dw[j], dx: dx)
        }
        if context.measuresBranchDots { results.addBranchDot(branchDot, layer: layer) }
        // dA += duᵀ xd;  dxd += du A
        for (i, a) in projections.enumerated() {
            if a.key.layer != nil || sharedLearns, let da = gradients?.accumulator(a) {
                MatMul.tn(du[i], xd, into: da, accumulate: true)
            }
            MatMul.nn(du[i], a.value, into: dxd, accumulate: true)
        }
        if let mask = dropped?.mask { for e in 0..<dx.count { dx[e] += mask[e] * dxd[e] } }
    }

    /// dropout(x) = x ∘ mask with mask ∈ {0, 1/(1 − p)} drawn from (seed, micro-batch, layer,
    /// input), so the backward draws the same mask again; nil when not training or p = 0.
    private func dropout(_ x: Tensor, _ context: PassContext) -> (x: Tensor, mask: Tensor)? {
        guard context.training, config.dropout > 0 else { return nil }
        var rng = Initializer.stream(seed: config.seed &+ UInt64(context.microBatch) &* 0x9E37_79B9, name: "dropout.\(layer).\(input.rawValue)")
        let mask = Tensor(shape: x.shape), out = Tensor(shape: x.shape), keep = 1 / (1 - config.dropout)
        for i in 0..<mask.count {
            mask[i] = rng.nextFloat(in: 0...1) < config.dropout ? 0 : keep
            out[i] = x[i] * mask[i]
        }
        return (out, mask)
    }
}

/// What one group's forward keeps for the backward of the same pass: u per A, weights per router.
final class GroupActivations {
    var u: [Tensor] = [], weights: [Tensor] = []
}

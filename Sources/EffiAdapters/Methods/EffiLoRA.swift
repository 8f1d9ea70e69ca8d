/// EffiLoRA: y = W x + s · B_l A_g x with one A per share group — input width (`input`: q, k, v,
/// o, gate, up share one, down its own), module type (`type`), or per site (`none`) — and with
/// E > 1 experts y = W x + s · Σ_e w_e(x) B_{l,e} A_g x, w = softmax(R x) (or top-k), one router
/// per layer and input tensor shared by the sites that read it.
enum EffiLoRA: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        let a = builder.projection(projectionKey(slot), inputWidth: slot.inputWidth, trainable: true)
        let experts = slot.config.effectiveExperts
        guard experts > 1 else {
            return LowRankBranch(site: slot.site, projection: a, b: builder.zeroB(slot.key(.b(expert: nil)), outputWidth: slot.outputWidth),
                                 scale: slot.config.scale)
        }
        let heads = (0..<experts).map { builder.zeroB(slot.key(.b(expert: $0)), outputWidth: slot.outputWidth) }
        let router = builder.router(.inputRouter(layer: slot.layer, input: slot.site.input), inputWidth: slot.inputWidth)
        return RoutedBranch(site: slot.site, projection: a, router: router, heads: heads, scale: slot.config.scale)
    }

    static func projectionKey(_ slot: SiteSlot) -> ParameterKey {
        switch slot.config.share {
        case .input: .sharedProjection(slot.site == .down ? .ffnWidth : .modelWidth)
        case .type: .sharedProjection(.type(slot.site))
        case .none: slot.key(.a)
        }
    }
}

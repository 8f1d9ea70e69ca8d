/// HydraLoRA: an A per site, E B heads and a router of its own per site:
/// y = W x + s · Σ_e w_e(x) B_e A x, w = softmax(R x) (or top-k).
enum HydraLoRA: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        let a = builder.projection(slot.key(.a), inputWidth: slot.inputWidth, trainable: true)
        let heads = (0..<slot.config.effectiveExperts).map { builder.zeroB(slot.key(.b(expert: $0)), outputWidth: slot.outputWidth) }
        return RoutedBranch(site: slot.site, projection: a, router: builder.router(slot.key(.router), inputWidth: slot.inputWidth),
                            heads: heads, scale: slot.config.scale)
    }
}

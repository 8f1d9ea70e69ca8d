/// PEFT's LoRA: y = W x + s · B A x with A and B per site; s = alpha / r (rsLoRA: alpha / √r).
enum LoRA: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        perSite(slot, builder, trainableA: true)
    }

    /// A of its own (trained, or frozen at its random start) and B at zero.
    static func perSite(_ slot: SiteSlot, _ builder: AdapterBuilder, trainableA: Bool) -> AdapterBranch {
        LowRankBranch(site: slot.site, projection: builder.projection(slot.key(.a), inputWidth: slot.inputWidth, trainable: trainableA),
                      b: builder.zeroB(slot.key(.b(expert: nil)), outputWidth: slot.outputWidth), scale: slot.config.scale)
    }
}

/// LoRA-FA: LoRA with A frozen at its random initialisation (only B trains; A is rebuilt from
/// the seed when the adapter is loaded).
enum LoRAFA: AdapterMethod {
    static func branch(for slot: SiteSlot, _ builder: AdapterBuilder) -> AdapterBranch {
        LoRA.perSite(slot, builder, trainableA: false)
    }
}

import EffiCore
import EffiFormats
import EffiModel
import Foundation

/// PEFT's Lily folder (`peft_type` LILY): per adapted layer and module
/// `….{module}.lily_A.weight` [r, d_in], `….lily_B.weight` [num_B · r, d_out] (expert e's B is rows
/// e·r ..< (e+1)·r, transposed against effilora's [d_out, r]) and `….lily_router.weight`
/// [num_B, r]. Shared tensors are written at every layer that uses them (PEFT clones them on
/// save), so the copies must agree.
extension Adapters {
    static func importPEFTLily(folder: String, json: HuggingFaceConfig, model: ModelConfig) throws -> Adapters {
        let configPath = json.path
        for key in ["modules_to_save", "exclude_modules"] where !(json.json[key] is NSNull || json.json[key] == nil) {
            throw FormatError(configPath, "\(key) is not supported for Lily (it must be null)")
        }
        var c = AdapterConfig()
        c.method = .lily
        c.rank = try json.int("r")
        var lily = AdapterConfig.LilyOptions()
        lily.strideA = try json.int("stride_A")
        lily.numB = try json.int("num_B")
        lily.scaling = Float(try json.double("scaling"))
        c.lily = lily
        c.targets = try AdapterConfig.parseTargets(try json.strings("target_modules"))
        c.layers = PEFT.layersToTransform(json)
        let adapters = try Adapters(config: c, model: model)
        let weightsPath = (folder as NSString).appendingPathComponent(PEFT.weightsName)
        let file = try SafetensorsFile(path: weightsPath)
        var expected = Set(file.names), filled = Set<ObjectIdentifier>()
        /// Reads `name` as `shape`, rearranged into `target` by `place`; a second copy of a shared
        /// tensor must equal the first.
        func read(_ name: String, _ shape: [Int], into target: Parameter, place: (Tensor, Tensor) -> Void) throws {
            guard let info = file.info(name) else { throw FormatError(weightsPath, "tensor \(name) is missing") }
            guard info.shape == shape else { throw FormatError(weightsPath, "tensor \(name) has shape \(info.shape), expected \(shape)") }
            let values = Tensor(shape: shape), placed = Tensor(shape: target.value.shape)
            try file.readFloats(name, into: values.data, count: values.count)
            place(values, placed)
            expected.remove(name)
            if filled.insert(ObjectIdentifier(target)).inserted {
                target.value.copy(from: placed)
            } else if (0..<placed.count).contains(where: { placed[$0] != target.value[$0] }) {
                throw FormatError(weightsPath, "tensor \(name) differs from the other copies of the shared \(target.name) (Lily shares it across layers)")
            }
        }
        let copy = { (source: Tensor, target: Tensor) in target.copy(from: source) }
        for (layer, branch) in adapters.liveBranches {
            guard let lilyBranch = branch as? LilyBranch else { continue }
            let site = branch.site, r = c.rank, din = site.inputWidth(model), dout = site.outputWidth(model)
            try read(PEFT.tensorName(layer: layer, site: site, "lily_A.weight"), [r, din], into: branch.projection, place: copy)
            try read(PEFT.tensorName(layer: layer, site: site, "lily_router.weight"), [lily.numB, r], into: lilyBranch.lilyRouter, place: copy)
            for (e, head) in lilyBranch.heads.enumerated() {
                // B_e[o, k] = lily_B[e·r + k, o]
                try read(PEFT.tensorName(layer: layer, site: site, "lily_B.weight"), [lily.numB * r, dout], into: head) { stacked, b in
                    for o in 0..<dout { for k in 0..<r { b[o * r + k] = stacked[(e * r + k) * dout + o] } }
                }
            }
        }
        if let extra = expected.sorted().first {
            throw FormatError(weightsPath, "tensor \(extra) does not belong to a Lily of the configured targets and layers (\(expected.count) such tensors)")
        }
        try adapters.reorderQKRows(from: .rotateHalf, to: model.ropeLayout)
        return adapters
    }

    /// Writes PEFT's Lily folder: every adapted layer's three tensors, shared ones repeated, q/k
    /// rows in Hugging Face order.
    func exportPEFTLily(to folder: String, baseModel: String) throws {
        guard let lily = config.lily else { throw AdapterError("a lily adapter without its options") }
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for (layer, branch) in liveBranches {
            guard let lilyBranch = branch as? LilyBranch else { continue }
            let site = branch.site, r = config.rank, dout = site.outputWidth(modelConfig)
            let heads = QKRowOrder.heads(of: site, modelConfig)
            let stacked = Tensor(shape: [lily.numB * r, dout])
            for (e, head) in lilyBranch.heads.enumerated() {
                let b = heads.map { QKRowOrder.reorder(head.value, heads: $0, from: modelConfig.ropeLayout, to: .rotateHalf) } ?? head.value
                for o in 0..<dout { for k in 0..<r { stacked[(e * r + k) * dout + o] = b[o * r + k] } }
            }
            writer.add(PEFT.tensorName(layer: layer, site: site, "lily_A.weight"), branch.projection.value)
            writer.add(PEFT.tensorName(layer: layer, site: site, "lily_B.weight"), stacked)
            writer.add(PEFT.tensorName(layer: layer, site: site, "lily_router.weight"), lilyBranch.lilyRouter.value)
        }
        let json: [String: Any] = [
            "peft_type": "LILY", "task_type": "CAUSAL_LM", "base_model_name_or_path": baseModel, "inference_mode": true,
            "r": config.rank, "stride_A": lily.strideA, "num_B": lily.numB, "scaling": Double(lily.scaling),
            "target_modules": PEFT.targetModules(config.targets), "init_weights": true, "modules_to_save": NSNull(),
            "exclude_modules": NSNull(), "revision": NSNull(),
        ].merging(PEFT.layerSelection(adaptedLayers, of: modelConfig)) { a, _ in a }
        try PEFT.write(writer, config: json, to: folder)
    }
}

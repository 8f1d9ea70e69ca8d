/// What the Reducer made of a layer's adapter branches.
public enum LayerMode: String, Codable, Sendable {
    /// Trains.
    case active
    /// Keeps its forward contribution; its own parameters get no gradient or update.
    case frozen
    /// Removed: no contribution, not saved, not counted.
    case dropped
}

extension Adapters {
    /// Sets a layer's mode. Dropping is final: a dropped layer stays dropped.
    public func setMode(_ mode: LayerMode, layer: Int) {
        guard layerModes[layer] != .dropped else { return }
        layerModes[layer] = mode
        for p in parameters(ofLayer: layer) { p.trainable = mode == .active && !p.regenerable }
    }

    /// The parameters that belong to one layer (`layers.{l}.…`), not the shared ones.
    public func parameters(ofLayer layer: Int) -> [Parameter] {
        parameters.filter { $0.name.hasPrefix("layers.\(layer).") }
    }

    /// Adapted layers, ascending.
    public var adaptedLayers: [Int] { groups.indices.filter { !groups[$0].isEmpty } }

    /// Parameters in use: those of dropped layers are gone.
    public var liveParameters: [Parameter] {
        let dropped = Set(adaptedLayers.filter { layerModes[$0] == .dropped })
        guard !dropped.isEmpty else { return parameters }
        return parameters.filter { p in
            !dropped.contains { p.name.hasPrefix("layers.\($0).") }
        }
    }
}

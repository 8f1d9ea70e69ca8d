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
    /// The parameters that belong to one layer, not the shared ones.
    public func parameters(ofLayer layer: Int) -> [Parameter] {
        parameters.filter { $0.key.layer == layer }
    }

    /// Adapted layers, ascending.
    public var adaptedLayers: [Int] { groups.indices.filter { !groups[$0].isEmpty } }

    /// Layers whose branches train.
    public var activeLayers: [Int] { adaptedLayers.filter { layerModes[$0] == .active } }

    /// Parameters in use: those of dropped layers are gone.
    public var liveParameters: [Parameter] {
        parameters.filter { p in p.key.layer.map { layerModes[$0] != .dropped } ?? true }
    }

    /// Why the Reducer cannot freeze or drop single layers' branches (their B's are shared by
    /// every layer: Lily), or nil when it can.
    public var notReducibleByLayer: String? {
        guard let shared = parameters.first(where: { if case .sharedHead = $0.key { true } else { false } }) else { return nil }
        return "method \(config.method.rawValue) shares its B experts (\(shared.name), …) across every layer, so the Reducer cannot freeze "
            + "or drop one layer's B's; train it without --reducer-keep"
    }
}

import EffiCore

/// The keys and values (after RoPE) of every position fed so far, per layer, for one sequence.
public final class KVCache {
    public let capacity: Int
    /// [capacity, kvWidth] per layer; rows 0..<count are filled.
    public let keys: [Tensor]
    public let values: [Tensor]
    public internal(set) var count = 0

    public init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        keys = (0..<config.layers).map { _ in Tensor(shape: [capacity, config.kvWidth]) }
        values = (0..<config.layers).map { _ in Tensor(shape: [capacity, config.kvWidth]) }
    }

    /// Forgets every position (the buffers are kept).
    public func reset() { count = 0 }

    func store(layer: Int, keys k: Tensor, values v: Tensor, at position: Int) {
        let width = k.columns
        (keys[layer].data + position * width).update(from: k.data, count: k.count)
        (values[layer].data + position * width).update(from: v.data, count: v.count)
    }
}

/// A dense Float32 tensor: one contiguous, row-major allocation and a shape.
///
/// A reference type on purpose: kernels write into tensors that the caller allocated once, so a
/// training step allocates nothing. The storage is zero-filled at creation.
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>
    /// The tensor whose storage a view shares (kept alive by the view); nil when this one owns it.
    private let base: Tensor?

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = .allocate(capacity: Swift.max(count, 1))
        data.initialize(repeating: 0, count: Swift.max(count, 1))
        base = nil
    }

    private init(viewOf base: Tensor, offset: Int, shape: [Int]) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = base.data + offset
        self.base = base
    }

    /// `shape`'s worth of this tensor's storage from `offset` on, sharing it (no copy).
    public func view(offset: Int = 0, shape: [Int]) -> Tensor {
        let needed = shape.reduce(1, *)
        precondition(offset >= 0 && offset + needed <= count, "a view of \(needed) values at \(offset) in a tensor of \(count)")
        return Tensor(viewOf: self, offset: offset, shape: shape)
    }

    /// Rows `range` of the matrix view [rows, columns], sharing this tensor's storage.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) of a tensor with \(rows) rows")
        return Tensor(viewOf: self, offset: range.lowerBound * columns, shape: [range.count, columns])
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor shape \(shape) needs \(count) values, got \(values.count)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { if base == nil { data.deallocate() } }

    /// The size of the last dimension (the row length of the row-major layout).
    public var columns: Int { shape.last ?? 1 }
    /// The number of rows: every dimension but the last, multiplied.
    public var rows: Int { columns == 0 ? 0 : count / columns }

    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    public subscript(index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }

    public func zero() { data.update(repeating: 0, count: count) }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    public func clone() -> Tensor {
        let t = Tensor(shape: shape)
        t.copy(from: self)
        return t
    }
}

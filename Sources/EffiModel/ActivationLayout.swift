import EffiCore

/// Named [rows, width] tensors laid one after another in one storage block. The table of fields
/// is the only place their widths are written: the storage a caller allocates is
/// rows · `floatsPerRow`, derived from it.
struct ActivationLayout<Field: Hashable> {
    let fields: [(field: Field, width: Int)]

    var floatsPerRow: Int { fields.reduce(0) { $0 + $1.width } }

    /// One view per field into `storage` (at least rows · floatsPerRow floats).
    func carve(_ storage: Tensor, rows: Int) -> [Field: Tensor] {
        precondition(storage.count >= rows * floatsPerRow, "storage of \(storage.count) floats for \(rows) rows × \(floatsPerRow)")
        var views: [Field: Tensor] = [:], offset = 0
        for (field, width) in fields {
            views[field] = storage.view(offset: offset, shape: width == 1 ? [rows] : [rows, width])
            offset += rows * width
        }
        return views
    }
}

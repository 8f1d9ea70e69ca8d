import XCTest
import Foundation
import EffiCore
@testable import EffiFormats

/// GGUFWriter's files read back by GGUFFile: every value type kept exactly, tensors aligned and
/// converted, bad input refused with the key or tensor named.
final class GGUFWriterTests: XCTestCase {
    func temporary() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-writer-\(UUID().uuidString).gguf").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testValuesKeepTheirTypesAndTensorsTheirValues() throws {
        var w = GGUFWriter()
        let values: [(String, GGUFValue, GGUFType)] = [
            ("u8", .uint(200), .uint8), ("i8", .int(-100), .int8), ("u16", .uint(60_000), .uint16), ("i16", .int(-30_000), .int16),
            ("u32", .uint(4_000_000_000), .uint32), ("i32", .int(-2_000_000_000), .int32), ("u64", .uint(1 << 40), .uint64),
            ("i64", .int(-(1 << 40)), .int64), ("f32", .float(0.5), .float32), ("f64", .float(0.1), .float64),
            ("b", .bool(true), .bool), ("s", .string("héllo"), .string),
            ("ai32", .array([.int(-1), .int(3)]), .array(of: .int32)), ("as", .array([.string("a b"), .string("")]), .array(of: .string)),
            ("af32", .array([.float(1.5), .float(-2)]), .array(of: .float32)),
        ]
        for (key, value, type) in values { w.set(key, value, as: type) }
        w.set("u32", uint32: 7)  // replaces, keeping the position
        let matrix = Tensor(shape: [3, 5], values: (0..<15).map { Float($0) * 0.25 - 1 })
        let vector = Tensor(shape: [7], values: (0..<7).map { Float($0) + 0.5 })
        w.add("m.f16", matrix, as: .f16)
        w.add("v.f32", vector, as: .f32)
        w.add("m.bf16", matrix, as: .bf16)
        let path = temporary()
        try w.write(to: path)

        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.metadataKeys, values.map(\.0))
        for (key, value, type) in values where key != "u32" {
            XCTAssertEqual(f.metadata[key], value, key)
            XCTAssertEqual(f.metadataTypes[key], type, key)
        }
        XCTAssertEqual(f.metadata["u32"], .uint(7))
        XCTAssertEqual(f.tensor("m.f16")?.dimensions, [5, 3], "ggml dimensions: fastest first")
        XCTAssertEqual(f.tensor("v.f32")?.type, .f32)
        for t in f.tensors { XCTAssertEqual((t.fileOffset - f.dataOffset) % 32, 0, t.name) }
        for name in ["m.f16", "v.f32", "m.bf16"] {
            let info = f.tensor(name)!
            var out = [Float](repeating: 0, count: info.elementCount)
            out.withUnsafeMutableBufferPointer { f.values(of: info, into: $0.baseAddress!) }
            XCTAssertEqual(out, name.hasPrefix("v") ? vector.array : matrix.array, name)  // exact in 16 bits
        }
    }

    func testValuesThatDoNotFitTheirTypeAreErrors() throws {
        var w = GGUFWriter()
        w.set("general.block_count", .int(-1), as: .uint32)
        XCTAssertThrowsError(try w.write(to: temporary())) { error in
            XCTAssertTrue("\(error)".contains("general.block_count") && "\(error)".contains("uint32"), "\(error)")
        }
        var q = GGUFWriter()
        q.add("w", Tensor(shape: [32]), as: .q8_0)
        XCTAssertThrowsError(try q.write(to: temporary())) { XCTAssertTrue("\($0)".contains("tensor w"), "\($0)") }
    }
}

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

    /// Q8_0 tensors: 34 bytes per 32 values, read back within half a step (plus the f16 rounding
    /// of the step, ≤ 127 · 2^-11 of it); rows that are not whole blocks are refused by name.
    func testQ8_0TensorsRoundTrip() throws {
        var w = GGUFWriter()
        let matrix = Tensor(shape: [3, 64], values: (0..<192).map { sin(Float($0) * 0.37) * Float($0 % 7 + 1) })
        w.add("m.q8", matrix, as: .q8_0)
        w.add("after", Tensor(shape: [2], values: [1, 2]), as: .f32)
        let path = temporary()
        try w.write(to: path)
        let f = try GGUFFile(path: path)
        let info = try XCTUnwrap(f.tensor("m.q8"))
        XCTAssertEqual(info.type, .q8_0)
        XCTAssertEqual(info.byteCount, 6 * 34)
        var out = [Float](repeating: 0, count: 192)
        out.withUnsafeMutableBufferPointer { f.values(of: info, into: $0.baseAddress!) }
        for b in 0..<6 {
            let step = (0..<32).map { abs(matrix[b * 32 + $0]) }.max()! / 127
            for j in 0..<32 { XCTAssertEqual(out[b * 32 + j], matrix[b * 32 + j], accuracy: step * (0.5 + 127.0 / 2048), "block \(b)") }
        }
        var after = [Float](repeating: 0, count: 2)
        after.withUnsafeMutableBufferPointer { f.values(of: f.tensor("after")!, into: $0.baseAddress!) }
        XCTAssertEqual(after, [1, 2], "the tensor after the blocks is where its offset says")

        var bad = GGUFWriter()
        bad.add("odd", Tensor(shape: [2, 40]), as: .q8_0)
        XCTAssertThrowsError(try bad.write(to: temporary())) { error in
            XCTAssertTrue("\(error)".contains("odd") && "\(error)".contains("40"), "\(error)")
        }
    }

    func testValuesThatDoNotFitTheirTypeAreErrors() throws {
        var w = GGUFWriter()
        w.set("general.block_count", .int(-1), as: .uint32)
        XCTAssertThrowsError(try w.write(to: temporary())) { error in
            XCTAssertTrue("\(error)".contains("general.block_count") && "\(error)".contains("uint32"), "\(error)")
        }
        var q = GGUFWriter()
        q.add("w", Tensor(shape: [32]), as: .q4_0)  // no quantizer for it
        XCTAssertThrowsError(try q.write(to: temporary())) { XCTAssertTrue("\($0)".contains("tensor w"), "\($0)") }
    }
}

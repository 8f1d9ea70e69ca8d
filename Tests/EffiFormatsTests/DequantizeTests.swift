import XCTest
import Foundation
@testable import EffiCore
@testable import EffiFormats

/// Dequantisation against llama.cpp's Python package `gguf` (scripts/reference_dequantize.py →
/// Fixtures/dequantize.json): random blocks of every supported type, and whole tensors of the
/// SmolLM2-135M file.
final class DequantizeTests: XCTestCase {
    struct Fixture: Decodable {
        struct Block: Decodable { let type: String; let hex: String; let values: [Float] }
        struct ModelTensor: Decodable {
            let name: String, type: String, first: [Double], sum: Double, sum_squares: Double, count: Int
        }
        let blocks: [Block]
        let model: [ModelTensor]
    }

    lazy var fixture: Fixture = {
        let url = Bundle.module.url(forResource: "dequantize", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func testRandomBlocksOfEveryType() throws {
        XCTAssertEqual(Set(fixture.blocks.map(\.type)), Set(Dequantize.supported.map(\.name)))
        for block in fixture.blocks {
            let type = try XCTUnwrap(GGMLType.allCases.first { $0.name == block.type })
            let raw = bytes(hex: block.hex)
            let count = raw.count / type.blockBytes
            XCTAssertEqual(count * type.blockSize, block.values.count, block.type)
            var out = [Float](repeating: .nan, count: block.values.count)
            raw.withUnsafeBytes { p in
                for b in 0..<count {
                    Dequantize.block(type, p.baseAddress! + b * type.blockBytes, &out[b * type.blockSize])
                }
            }
            XCTAssertEqual(out, block.values, "\(block.type) differs from gguf's dequantize")
            // the vector kernels (each instruction set there is) give the same values
            let best = QuantizedMatrix.dotKernels
            for isa in Set(["avx2", best]) where QuantizedMatrix.limitDotKernels(to: isa) {
                var vector = [Float](repeating: .nan, count: block.values.count)
                raw.withUnsafeBytes { p in Dequantize.values(type, elements: vector.count, bytes: p, into: &vector) }
                XCTAssertEqual(vector, block.values, "\(block.type), \(isa) kernels, differs from gguf's dequantize")
            }
            QuantizedMatrix.limitDotKernels(to: best)
        }
    }

    func testModelTensorsMatch() throws {
        let g = try GGUFFile(path: smolLM2Path())
        for expected in fixture.model {
            let info = try XCTUnwrap(g.tensor(expected.name))
            XCTAssertEqual(info.type.name, expected.type)
            let out = UnsafeMutablePointer<Float>.allocate(capacity: info.elementCount)
            defer { out.deallocate() }
            g.values(of: info, into: out)
            XCTAssertEqual(info.elementCount, expected.count)
            XCTAssertEqual((0..<8).map { Double(out[$0]) }, expected.first, expected.name)
            var sum = 0.0, squares = 0.0
            for i in 0..<info.elementCount { sum += Double(out[i]); squares += Double(out[i]) * Double(out[i]) }
            XCTAssertEqual(sum, expected.sum, accuracy: 1e-9 * max(1, expected.sum_squares), expected.name)
            XCTAssertEqual(squares, expected.sum_squares, accuracy: 1e-9 * expected.sum_squares, expected.name)
        }
    }

    func testHalfFloats() {
        let cases: [(UInt16, Float)] = [(0x3C00, 1), (0xC000, -2), (0x0001, 5.960464477539063e-08), (0x7BFF, 65504),
                                        (0x7C00, .infinity), (0x8000, -0.0), (0x3555, 0.33325195)]
        for (bits, value) in cases {
            withUnsafeBytes(of: bits.littleEndian) { XCTAssertEqual(Dequantize.half($0.baseAddress!, 0), value, "\(bits)") }
        }
    }
}

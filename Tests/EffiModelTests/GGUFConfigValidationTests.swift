import EffiFormats
@testable import EffiModel
import EffiTestSupport
import Foundation
import XCTest

/// A GGUF file's decoder metadata is checked against sane ranges and against the tensors present
/// before anything is allocated: a damaged value is an error naming the file and the key, never a
/// trap, a huge allocation or a silently different model.
final class GGUFConfigValidationTests: XCTestCase {
    /// GGUF value type codes.
    enum Code { static let uint32: UInt32 = 4, int32: UInt32 = 5, float32: UInt32 = 6, string: UInt32 = 8 }

    func assertRefused(_ key: String, type: UInt32, value: Data, containing expected: String, layers: Int = 2,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        var model = TinyGGUFModel()
        model.layers = layers
        model.editMetadata = { $0.replace("llama." + key, type: type, value: value) }
        let path = try model.write(seed: 3)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try ModelConfig(gguf: try GGUFFile(path: path)), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path), "names the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(expected), "\"\(message)\" should mention \"\(expected)\"", file: file, line: line)
        }
    }

    static func u32(_ v: UInt32) -> Data { GGUFBuilder.u32(v) }
    static func i32(_ v: Int32) -> Data { GGUFBuilder.u32(UInt32(bitPattern: v)) }
    static func f32(_ v: Float) -> Data { GGUFBuilder.u32(v.bitPattern) }

    func testTheUndamagedFileLoads() throws {
        let path = try TinyGGUFModel().write(seed: 3)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try ModelConfig(gguf: try GGUFFile(path: path))
        XCTAssertEqual(config.layers, 2)
        XCTAssertEqual(config.headDim, 8)
    }

    func testSizesOutOfRange() throws {
        try assertRefused("attention.head_count", type: Code.uint32, value: Self.u32(0), containing: "llama.attention.head_count is 0, expected 1…1024")
        try assertRefused("attention.head_count_kv", type: Code.uint32, value: Self.u32(0), containing: "llama.attention.head_count_kv is 0, expected 1…1024")
        try assertRefused("block_count", type: Code.int32, value: Self.i32(-1), containing: "llama.block_count is -1, expected 1…1024")
        try assertRefused("block_count", type: Code.uint32, value: Self.u32(.max), containing: "llama.block_count is 4294967295, expected 1…1024")
        try assertRefused("context_length", type: Code.int32, value: Self.i32(-5), containing: "llama.context_length is -5, expected 1…16777216")
        try assertRefused("context_length", type: Code.uint32, value: Self.u32(.max), containing: "llama.context_length is 4294967295")
    }

    func testHeadsThatDoNotSplitTheWidth() throws {
        // width 32: 32 heads give a head size of 1, which RoPE cannot rotate in pairs.
        try assertRefused("attention.head_count", type: Code.uint32, value: Self.u32(32), containing: "does not divide into 32 heads of even size")
        try assertRefused("attention.head_count_kv", type: Code.uint32, value: Self.u32(3), containing: "is not a multiple of llama.attention.head_count_kv 3")
        // 8 heads and 4 KV heads keep every tensor's shape (k and v: 4 × 4 = 16 rows, as 2 × 8) but
        // split attention differently; the stated rotated size gives it away.
        var model = TinyGGUFModel()
        model.editMetadata = {
            $0.replace("llama.attention.head_count", type: Code.uint32, value: Self.u32(8))
            $0.replace("llama.attention.head_count_kv", type: Code.uint32, value: Self.u32(4))
            $0.replace("llama.rope.dimension_count", type: Code.uint32, value: Self.u32(8))
        }
        let path = try model.write(seed: 3)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try ModelConfig(gguf: try GGUFFile(path: path))) { error in
            XCTAssertTrue("\(error)".contains("llama.rope.dimension_count is 8, but llama.embedding_length 32 / llama.attention.head_count 8 = 4"), "\(error)")
        }
    }

    func testRoPEBaseAndEpsilon() throws {
        for bad: Float in [.nan, -1, 0, .infinity] {
            try assertRefused("rope.freq_base", type: Code.float32, value: Self.f32(bad), containing: "llama.rope.freq_base is \(Double(bad)), expected a positive finite number")
        }
        try assertRefused("rope.freq_base", type: Code.string, value: GGUFBuilder.string("10000"), containing: "llama.rope.freq_base is \"10000\", expected a number")
        for bad: Float in [.nan, -1e-5, 0] {
            try assertRefused("attention.layer_norm_rms_epsilon", type: Code.float32, value: Self.f32(bad),
                              containing: "llama.attention.layer_norm_rms_epsilon is \(bad), expected a positive number below 1")
        }
    }

    func testLayerCountMustMatchTheTensors() throws {
        try assertRefused("block_count", type: Code.uint32, value: Self.u32(1), containing: "llama.block_count is 1, but the tensors hold layers 0…1", layers: 2)
        try assertRefused("block_count", type: Code.uint32, value: Self.u32(3), containing: "llama.block_count is 3, but the tensors hold layers 0…1", layers: 2)
    }

    func testUnknownTokenTypesAreRefused() throws {
        var model = TinyGGUFModel()
        model.editMetadata = { b in
            b.metadata.removeAll { $0.0 == "tokenizer.ggml.token_type" }
            b.add("tokenizer.ggml.token_type", int32s: TinyGGUFModel.tokens.indices.map { $0 == 5 ? 9 : 1 })
        }
        let path = try model.write(seed: 3)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try LanguageModel.load(path)) { XCTAssertTrue("\($0)".contains("tokenizer.ggml.token_type[5] is 9, expected 1…6"), "\($0)") }
    }
}

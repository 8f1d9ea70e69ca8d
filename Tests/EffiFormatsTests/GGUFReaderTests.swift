import XCTest
import Foundation
import EffiCore
@testable import EffiFormats
import EffiTestSupport

final class GGUFReaderTests: XCTestCase {
    func sample() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.add("general.architecture", string: "llama")
        b.add("llama.block_count", uint32: 2)
        b.add("llama.rope.freq_base", float: 10000)
        b.add("tokenizer.ggml.tokens", strings: ["a", "b", "ü"])
        b.addF32("w", dims: [3, 2], values: [1, 2, 3, 4, 5, 6])
        b.addF32("norm", dims: [3], values: [7, 8, 9])
        return b
    }

    func open(_ b: GGUFBuilder) throws -> GGUFFile {
        let path = try b.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try GGUFFile(path: path)
    }

    func assertFails(_ b: GGUFBuilder, containing text: String, file: StaticString = #filePath, line: UInt = #line) {
        let path = try! b.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try GGUFFile(path: path), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(text), "\"\(message)\" should mention \"\(text)\"", file: file, line: line)
            XCTAssertTrue(message.hasPrefix(path), "the error names the file", file: file, line: line)
        }
    }

    func testReadsMetadataAndTensors() throws {
        let g = try open(sample())
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(g.architecture, "llama")
        XCTAssertEqual(g.architectureValue("block_count")?.int, 2)
        XCTAssertEqual(g.architectureValue("rope.freq_base")?.double, 10000)
        XCTAssertEqual(g.metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), ["a", "b", "ü"])
        XCTAssertEqual(g.metadataKeys.first, "general.architecture")
        let w = try XCTUnwrap(g.tensor("w"))
        XCTAssertEqual(w.dimensions, [3, 2])
        XCTAssertEqual(w.shape, [2, 3])
        XCTAssertEqual(w.type, .f32)
        let floats = g.bytes(of: w).bindMemory(to: Float.self)
        XCTAssertEqual(Array(floats), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(g.bytes(of: g.tensor("norm")!).bindMemory(to: Float.self)), [7, 8, 9])
        XCTAssertEqual(g.tensor("norm")!.fileOffset % 32, 0)
    }

    func testRejectsBadMagicAndVersion() {
        var b = sample()
        b.version = 7
        assertFails(b, containing: "version 7")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not.gguf").path
        try! Data("GGML and more bytes".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try GGUFFile(path: path)) { XCTAssertTrue("\($0)".contains("not a GGUF file")) }
    }

    func testRejectsTruncatedFiles() throws {
        let full = sample().build()
        for cut in [3, 20, 60, full.count - 30, full.count - 1] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(cut).gguf").path
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try GGUFFile(path: path), "cut at \(cut)") { error in
                XCTAssertTrue(error is FormatError, "cut at \(cut): \(error)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    func testRejectsTensorPastTheEnd() {
        var b = sample()
        b.tensors[1].offset = 4096
        b.tensors[1].data = Data()
        assertFails(b, containing: "tensor norm")
    }

    /// Dimensions each below the reader's 2⁴⁰ bound whose product overflows an Int.
    func testRejectsDimensionsWhoseProductOverflows() {
        var b = sample()
        b.tensors[0].dims = [32, 1 << 39, 1 << 39]
        assertFails(b, containing: "tensor w: F32 [32, 549755813888, 549755813888] needs more bytes than the file has")
    }

    func testRejectsUnknownTypeAndBadBlocks() {
        var b = sample()
        b.tensors[0].type = 99
        assertFails(b, containing: "tensor w has ggml type 99")
        var q = sample()
        q.tensors[0].type = GGMLType.q8_0.rawValue  // 3 columns is not a multiple of 32
        assertFails(q, containing: "not a multiple of Q8_0's block of 32")
    }

    func testRejectsOverlapsAndMisalignment() {
        var b = sample()
        b.tensors[1].offset = 0
        assertFails(b, containing: "overlap")
        var m = sample()
        m.tensors[1].offset = 36
        assertFails(m, containing: "not aligned")
    }

    func testRejectsAbsurdStringLength() {
        var b = sample()
        b.metadata.append(("bad", 8, GGUFBuilder.u64(1 << 40)))
        assertFails(b, containing: "metadata bad")
    }

    /// Limits of the format and values that would be silently replaced: long keys and names,
    /// repeated keys, an alignment that is not a power of two (or not a number), bytes after the data.
    func testBoundsAndSilentlyReplacedValues() throws {
        var longKey = sample()
        longKey.add(String(repeating: "k", count: 70_000), uint32: 1)
        assertFails(longKey, containing: "claims 70000 bytes; at most 65535 are allowed")
        var longName = sample()
        longName.addF32(String(repeating: "t", count: 65), dims: [1], values: [0])
        assertFails(longName, containing: "name of tensor #2 at byte")
        var twice = sample()
        twice.add("llama.block_count", uint32: 3)
        assertFails(twice, containing: "metadata llama.block_count appears twice")
        for (type, value, shown) in [(UInt32(8), GGUFBuilder.string("32"), "\"32\""), (4, GGUFBuilder.u32(3), "3"), (4, GGUFBuilder.u32(1 << 20), "1048576")] {
            var aligned = sample()
            aligned.replace("general.alignment", type: type, value: value)
            assertFails(aligned, containing: "general.alignment is \(shown), expected a power of two up to 65536")
        }
        let path = try sample().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertNoThrow(try GGUFFile(path: path))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(count: 100))
        try handle.close()
        XCTAssertThrowsError(try GGUFFile(path: path)) { XCTAssertTrue("\($0)".contains("bytes follow the last tensor's data"), "\($0)") }
    }
}

import XCTest
import Foundation
@testable import EffiCore
@testable import EffiFormats

final class SafetensorsTests: XCTestCase {
    var cleanup: [String] = []

    override func tearDown() {
        for path in cleanup { try? FileManager.default.removeItem(atPath: path) }
        cleanup = []
    }

    func temporaryPath(_ suffix: String = ".safetensors") -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-\(UUID().uuidString)\(suffix)").path
        cleanup.append(path)
        return path
    }

    /// A file from raw header text and data bytes (N = the header's length, as given).
    func rawFile(header: String, data: [UInt8], headerLength: UInt64? = nil) throws -> String {
        let json = Array(header.utf8)
        var bytes = withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { Array($0) }
        bytes += json + data
        let path = temporaryPath()
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func floats(_ file: SafetensorsFile, _ name: String) throws -> [Float] {
        let info = try XCTUnwrap(file.info(name), name)
        var out = [Float](repeating: .nan, count: info.elementCount)
        try out.withUnsafeMutableBufferPointer { try file.readFloats(name, into: $0.baseAddress!, count: info.elementCount) }
        return out
    }

    func assertRejects(header: String, data: [UInt8], headerLength: UInt64? = nil, containing texts: [String],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try rawFile(header: header, data: data, headerLength: headerLength)
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            XCTAssertTrue(error is FormatError, "\(error)", file: file, line: line)
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path), "the error names the file: \(message)", file: file, line: line)
            for text in texts {
                XCTAssertTrue(message.contains(text), "\"\(message)\" should mention \"\(text)\"", file: file, line: line)
            }
        }
    }

    // MARK: - round trips

    func testRoundTripOfEveryFloatType() throws {
        var rng = SplitMix64(seed: 7)
        let matrix = (0..<12).map { _ in rng.nextGaussian() }
        var w = SafetensorsWriter(metadata: ["format": "pt", "note": "quote \" and ü"])
        w.add("m.f32", shape: [3, 4], values: matrix)
        w.add("m.f16", shape: [3, 4], values: matrix, as: .f16)
        w.add("m.bf16", shape: [2, 3, 2], values: matrix, as: .bf16)
        w.add("scalar", shape: [], values: [2.5])
        w.add("empty", shape: [0, 5], values: [])
        w.add("vector.bf16", shape: [3], values: [1, -2, 0.5], as: .bf16)
        let path = temporaryPath()
        try w.write(to: path)

        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.names, ["empty", "m.bf16", "m.f16", "m.f32", "scalar", "vector.bf16"])
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "quote \" and ü"])
        XCTAssertEqual(f.dataOffset % 8, 0, "the header is padded to a multiple of 8")
        XCTAssertEqual(f.info("m.f32")?.shape, [3, 4])
        XCTAssertEqual(f.info("m.f32")?.dtype, .f32)
        XCTAssertEqual(f.info("m.f16")?.dtype, .f16)
        XCTAssertEqual(f.info("m.bf16")?.shape, [2, 3, 2])
        XCTAssertEqual(f.info("scalar")?.shape, [])
        XCTAssertEqual(f.info("empty")?.shape, [0, 5])
        XCTAssertEqual(f.info("empty")?.byteCount, 0)

        XCTAssertEqual(try floats(f, "m.f32"), matrix)
        XCTAssertEqual(try floats(f, "m.f16"), matrix.map { Float(Float16Reference.decode(SafetensorsDType.halfBits($0))) })
        XCTAssertEqual(try floats(f, "m.bf16"), matrix.map { Float(bitPattern: UInt32(SafetensorsDType.bfloat16Bits($0)) << 16) })
        for (a, b) in zip(try floats(f, "m.f16"), matrix) { XCTAssertEqual(a, b, accuracy: abs(b) / 1024 + 1e-7) }
        for (a, b) in zip(try floats(f, "m.bf16"), matrix) { XCTAssertEqual(a, b, accuracy: abs(b) / 128) }
        XCTAssertEqual(try floats(f, "scalar"), [2.5])
        XCTAssertEqual(try floats(f, "empty"), [])
        XCTAssertEqual(try floats(f, "vector.bf16"), [1, -2, 0.5])

        // F32 tensors come first (larger element types first), each aligned to its element size.
        let order = f.names.compactMap(f.info).sorted { $0.fileOffset < $1.fileOffset }
        XCTAssertEqual(order.first { $0.byteCount > 0 }?.name, "m.f32")
        for info in order { XCTAssertEqual(info.fileOffset % info.dtype.size, 0, info.name) }
    }

    func testHeaderIsSortedPaddedJSON() throws {
        var w = SafetensorsWriter(metadata: ["k": "v"])
        w.add("b", shape: [1], values: [1])
        w.add("a", shape: [2], values: [2, 3])
        let path = temporaryPath()
        try w.write(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: bytes[8..<8 + n], as: UTF8.self)
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(trimmed, #"{"__metadata__":{"k":"v"},"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]},"b":{"data_offsets":[8,12],"dtype":"F32","shape":[1]}}"#)
        XCTAssertEqual(bytes.count, 8 + n + 12)
    }

    func testWriteReplacesAtomicallyAndLeavesNoTemporaryFile() throws {
        let folder = temporaryPath("")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/adapter.safetensors"
        var w = SafetensorsWriter()
        w.add("x", shape: [2], values: [1, 2])
        try w.write(to: path)
        w = SafetensorsWriter()
        w.add("y", shape: [1], values: [3])
        try w.write(to: path)
        XCTAssertEqual(try SafetensorsFile(path: path).names, ["y"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["adapter.safetensors"])

        var twice = SafetensorsWriter()
        twice.add("x", shape: [1], values: [1])
        twice.add("x", shape: [1], values: [2])
        XCTAssertThrowsError(try twice.write(to: folder + "/twice.safetensors")) { XCTAssertTrue("\($0)".contains("tensor x was added twice")) }
        var integer = SafetensorsWriter()
        integer.add("i", shape: [1], values: [1], as: .i64)
        XCTAssertThrowsError(try integer.write(to: folder + "/int.safetensors")) { XCTAssertTrue("\($0)".contains("tensor i")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["adapter.safetensors"])
    }

    /// The byte layout of the reference implementation's own test (safetensors
    /// `test_serialization_forced_alignement`): tensor "attn0", F32 [1, 1, 2, 3] = 0…5, its header
    /// in the reference writer's key order and padded with spaces to 72 bytes.
    func testReadsTheReferenceLayout() throws {
        let header = #"{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}"# + String(repeating: " ", count: 7)
        XCTAssertEqual(header.utf8.count, 72)
        let data = (0..<6).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian) { Array($0) } }
        let f = try SafetensorsFile(path: try rawFile(header: header, data: data))
        XCTAssertEqual(f.names, ["attn0"])
        XCTAssertEqual(f.info("attn0")?.shape, [1, 1, 2, 3])
        XCTAssertEqual(try floats(f, "attn0"), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(f.metadata, [:])
    }

    func testIntegerTypesAreListedButNotReadAsFloats() throws {
        let header = #"{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"w":{"dtype":"F64","shape":[1],"data_offsets":[16,24]},"mask":{"dtype":"U8","shape":[3],"data_offsets":[24,27]}}"#
        let f = try SafetensorsFile(path: try rawFile(header: header, data: [UInt8](repeating: 0, count: 27)))
        XCTAssertEqual(f.info("ids")?.dtype, .i64)
        XCTAssertEqual(f.info("mask")?.byteCount, 3)
        var out = [Float](repeating: 0, count: 2)
        XCTAssertThrowsError(try f.readFloats("ids", into: &out, count: 2)) { error in
            XCTAssertTrue("\(error)".contains("tensor ids is I64"), "\(error)")
        }
        XCTAssertThrowsError(try f.readFloats("ids", into: &out, count: 1)) { XCTAssertTrue("\($0)".contains("expected 1 values")) }
        XCTAssertThrowsError(try f.readFloats("nope", into: &out, count: 1)) { XCTAssertTrue("\($0)".contains("tensor nope is not in the file")) }
    }

    // MARK: - header rules

    let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]}}"#
    let data16 = [UInt8](repeating: 0, count: 16)

    func testTheGoodSampleOpens() throws {
        let f = try SafetensorsFile(path: try rawFile(header: good, data: data16))
        XCTAssertEqual(f.names, ["a", "b"])
    }

    func testRejectsHeaderLengthPastTheEnd() throws {
        try assertRejects(header: good, data: data16, headerLength: 1 << 20, containing: ["header length 1048576 runs past the end"])
        try assertRejects(header: good, data: data16, headerLength: 1 << 62, containing: ["larger than the limit"])
        let tiny = temporaryPath()
        try Data([1, 0, 0]).write(to: URL(fileURLWithPath: tiny))
        XCTAssertThrowsError(try SafetensorsFile(path: tiny)) { XCTAssertTrue("\($0)".contains("truncated")) }
    }

    func testRejectsBadJSON() throws {
        try assertRejects(header: #"{"a":{"dtype":"F32","#, data: data16, containing: ["not valid UTF-8 JSON"])
        try assertRejects(header: #"[1, 2]"#, data: [], containing: ["not an object"])
        try assertRejects(header: #"{"a": 3}"#, data: [], containing: ["tensor a", "expected an object"])
        try assertRejects(header: #"{"__metadata__":{"k":1}}"#, data: [], containing: ["__metadata__ key k", "expected a string"])
    }

    func testRejectsUnknownDtypeAndBadShapes() throws {
        try assertRejects(header: good.replacingOccurrences(of: "F16", with: "F17"), data: data16,
                          containing: ["tensor b has dtype F17", "not a safetensors dtype"])
        try assertRejects(header: good.replacingOccurrences(of: "[2,2]", with: "[2,-2]"), data: data16,
                          containing: ["tensor b", "shape", "non-negative integers"])
        try assertRejects(header: good.replacingOccurrences(of: "[2,2]", with: "[2,2.5]"), data: data16, containing: ["tensor b", "shape"])
        try assertRejects(header: good.replacingOccurrences(of: "[0,8]", with: "[0]"), data: data16, containing: ["tensor a", "data_offsets"])
    }

    func testRejectsEndPastTheData() throws {
        try assertRejects(header: good, data: Array(data16.prefix(12)),
                          containing: ["tensor b", "run past the end of the data section (12 bytes)"])
        try assertRejects(header: good.replacingOccurrences(of: "[8,16]", with: "[16,8]"), data: data16,
                          containing: ["tensor b", "end before they begin"])
    }

    func testRejectsSizeMismatch() throws {
        try assertRejects(header: good.replacingOccurrences(of: "[2,2]", with: "[3,2]"), data: data16,
                          containing: ["tensor b", "F16 [3, 2] needs 12 bytes", "hold 8"])
    }

    func testRejectsOverlapGapsAndTrailingBytes() throws {
        let overlap = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        try assertRejects(header: overlap, data: [UInt8](repeating: 0, count: 12), containing: ["tensor b", "overlaps tensor a"])
        let gap = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        try assertRejects(header: gap, data: [UInt8](repeating: 0, count: 12), containing: ["tensor b starts at data offset 8, expected 4"])
        try assertRejects(header: good, data: data16 + [0, 0], containing: ["the tensors end at data offset 16", "18 bytes"])
    }

    // MARK: - 16-bit encodings

    func testHalfAndBFloat16Bits() {
        // Independently worked-out bit patterns.
        XCTAssertEqual(SafetensorsDType.halfBits(1), 0x3C00)
        XCTAssertEqual(SafetensorsDType.halfBits(-2), 0xC000)
        XCTAssertEqual(SafetensorsDType.halfBits(65504), 0x7BFF)
        XCTAssertEqual(SafetensorsDType.halfBits(65520), 0x7C00, "rounds up to infinity")
        XCTAssertEqual(SafetensorsDType.halfBits(1e6), 0x7C00)
        XCTAssertEqual(SafetensorsDType.halfBits(-.infinity), 0xFC00)
        XCTAssertEqual(SafetensorsDType.halfBits(5.960464477539063e-08), 0x0001, "smallest subnormal")
        XCTAssertEqual(SafetensorsDType.halfBits(2.9802322387695312e-08), 0x0000, "half of it ties to even 0")
        XCTAssertEqual(SafetensorsDType.halfBits(8.940696716308594e-08), 0x0002, "1.5 units ties to even 2")
        XCTAssertEqual(SafetensorsDType.halfBits(6.097555160522461e-05), 0x03FF, "largest subnormal")
        XCTAssertEqual(SafetensorsDType.halfBits(6.103515625e-05), 0x0400, "smallest normal")
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1); 1 + 3·2^-11 ties up.
        XCTAssertEqual(SafetensorsDType.halfBits(1 + 0x1p-11), 0x3C00)
        XCTAssertEqual(SafetensorsDType.halfBits(1 + 3 * 0x1p-11), 0x3C02)
        XCTAssertEqual(SafetensorsDType.halfBits(1 + 0x1p-11 + 0x1p-20), 0x3C01, "just above halfway rounds up")
        XCTAssertEqual(SafetensorsDType.halfBits(0.1), 0x2E66)
        XCTAssertTrue(Float(Float16Reference.decode(SafetensorsDType.halfBits(.nan))).isNaN)

        XCTAssertEqual(SafetensorsDType.bfloat16Bits(1), 0x3F80)
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(-2), 0xC000)
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(0.1), 0x3DCD)  // 0x3DCCCCCD rounds up
        // 1 + 2^-8 is halfway between 1 (0x3F80) and 1 + 2^-7 (0x3F81): ties to even.
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(1 + 0x1p-8), 0x3F80)
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(1 + 3 * 0x1p-8), 0x3F82)
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(Float.greatestFiniteMagnitude), 0x7F80, "rounds to infinity")
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(.infinity), 0x7F80)
        XCTAssertEqual(SafetensorsDType.bfloat16Bits(-0.0), 0x8000)
        XCTAssertTrue(Float(bitPattern: UInt32(SafetensorsDType.bfloat16Bits(.nan)) << 16).isNaN)
    }

    #if !(os(macOS) && arch(x86_64))
    /// Against the compiler's own Float16 conversion (round to nearest even) on many values.
    func testHalfBitsMatchSwiftFloat16() {
        var rng = SplitMix64(seed: 11)
        for i in 0..<200_000 {
            let x: Float = i % 2 == 0 ? Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
                                      : rng.nextGaussian() * Float(1 << (i % 20)) * 0x1p-12
            if x.isNaN { continue }
            let ours = SafetensorsDType.halfBits(x), theirs = Float16(x).bitPattern
            if ours != theirs { return XCTFail("halfBits(\(x)) = \(ours), Float16 gives \(theirs)") }
        }
    }
    #endif
}

/// Decodes binary16 with the project's own Dequantize (the reader's path).
enum Float16Reference {
    static func decode(_ bits: UInt16) -> Float {
        withUnsafeBytes(of: bits.littleEndian) { Dequantize.half($0.baseAddress!, 0) }
    }
}

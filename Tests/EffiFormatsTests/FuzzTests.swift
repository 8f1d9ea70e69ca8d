import XCTest
import Foundation
import EffiCore
@testable import EffiFormats
import EffiTestSupport

/// Damaged files must fail with a FormatError, never crash: every truncation of a small valid
/// GGUF and safetensors file, and seeded random byte flips. Opening and then reading every
/// tensor must either succeed or throw FormatError (a crash would kill the test process).
final class FuzzTests: XCTestCase {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-fuzz-\(UUID().uuidString)").path

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A plain write: Foundation's Data.write syncs each file to disk, which makes a thousand cases
    /// take seconds.
    static func write(_ data: Data, to path: String) {
        guard let f = fopen(path, "wb") else { return XCTFail("cannot create \(path)") }
        defer { fclose(f) }
        let written = data.withUnsafeBytes { data.isEmpty ? 0 : fwrite($0.baseAddress!, 1, $0.count, f) }
        XCTAssertEqual(written, data.count, path)
    }

    static func randomBytes(_ count: Int, _ rng: inout SplitMix64) -> Data {
        Data((0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    /// A GGUF with metadata of several types and tensors of F32, F16, Q8_0 and Q4_K.
    func sampleGGUF() -> Data {
        var rng = SplitMix64(seed: 3)
        var b = GGUFBuilder()
        b.add("general.architecture", string: "llama")
        b.add("llama.block_count", uint32: 2)
        b.add("llama.rope.freq_base", float: 10000)
        b.add("tokenizer.ggml.tokens", strings: ["a", "bc", "ü"])
        b.addF32("w", dims: [3, 2], values: [1, 2, 3, 4, 5, 6])
        // F16 values in [-1, 1) (random bit patterns would be mostly fine too, but keep them finite).
        let half = (0..<8).flatMap { _ in
            withUnsafeBytes(of: SafetensorsDType.halfBits(rng.nextFloat(in: -1...1)).littleEndian) { Array($0) }
        }
        b.addTensor("h", dims: [8], type: GGMLType.f16.rawValue, data: Data(half))
        b.addTensor("q8", dims: [32, 2], type: GGMLType.q8_0.rawValue, data: Self.randomBytes(2 * 34, &rng))
        b.addTensor("q4k", dims: [256], type: GGMLType.q4_K.rawValue, data: Self.randomBytes(144, &rng))
        return b.build()
    }

    func sampleSafetensors() throws -> Data {
        var rng = SplitMix64(seed: 5)
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        w.add("a.f32", shape: [2, 3], values: (0..<6).map { _ in rng.nextGaussian() })
        w.add("b.f16", shape: [4], values: (0..<4).map { _ in rng.nextGaussian() }, as: .f16)
        w.add("c.bf16", shape: [2, 2], values: (0..<4).map { _ in rng.nextGaussian() }, as: .bf16)
        w.add("s", shape: [], values: [1])
        let path = directory + "/sample.safetensors"
        try w.write(to: path)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Opens and reads everything; returns whether it succeeded. Any error other than
    /// FormatError fails the test.
    @discardableResult
    func readGGUF(_ data: Data, _ what: String) -> Bool {
        let path = directory + "/case.gguf"
        Self.write(data, to: path)
        defer { unlink(path) }
        do {
            let g = try GGUFFile(path: path)
            _ = g.metadata.values.map(\.summary)
            for info in g.tensors where Dequantize.supported.contains(info.type) {
                let out = UnsafeMutablePointer<Float>.allocate(capacity: max(info.elementCount, 1))
                defer { out.deallocate() }
                g.values(of: info, into: out)
            }
            return true
        } catch is FormatError {
            return false
        } catch {
            XCTFail("\(what): \(error) is not a FormatError")
            return false
        }
    }

    @discardableResult
    func readSafetensors(_ data: Data, _ what: String) -> Bool {
        let path = directory + "/case.safetensors"
        Self.write(data, to: path)
        defer { unlink(path) }
        do {
            let f = try SafetensorsFile(path: path)
            for name in f.names {
                let info = f.info(name)!
                let out = UnsafeMutablePointer<Float>.allocate(capacity: max(info.elementCount, 1))
                defer { out.deallocate() }
                do {
                    try f.readFloats(name, into: out, count: info.elementCount)
                } catch let error as FormatError where info.dtype.isFloatConvertible {
                    XCTFail("\(what): a valid \(info.dtype.rawValue) tensor \(name) failed to read: \(error)")
                }
            }
            return true
        } catch is FormatError {
            return false
        } catch {
            XCTFail("\(what): \(error) is not a FormatError")
            return false
        }
    }

    /// Flips 1 to 4 random bytes (each XOR a non-zero byte); half the cases aim at the first 64
    /// bytes, where the counts and lengths are.
    func flipped(_ data: Data, _ rng: inout SplitMix64, _ i: Int) -> (Data, String) {
        var copy = data
        var positions: [Int] = []
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let span = i % 2 == 0 ? min(64, data.count) : data.count
            let p = Int(rng.next() % UInt64(span))
            copy[p] ^= UInt8(1 + rng.next() % 255)
            positions.append(p)
        }
        return (copy, "flip #\(i) at \(positions)")
    }

    func testGGUFTruncationsAndFlips() {
        let full = sampleGGUF()
        XCTAssertTrue(readGGUF(full, "the intact file"))
        for cut in 0..<full.count {
            XCTAssertFalse(readGGUF(full.prefix(cut), "cut at \(cut)"), "a file cut at \(cut) of \(full.count) bytes opened")
        }
        var rng = SplitMix64(seed: 2024)
        var opened = 0
        for i in 0..<500 {
            let (data, what) = flipped(full, &rng, i)
            if readGGUF(data, what) { opened += 1 }
        }
        print("GGUF fuzz: \(full.count) truncations rejected; \(opened) of 500 flipped files still opened")
    }

    func testSafetensorsTruncationsAndFlips() throws {
        let full = try sampleSafetensors()
        XCTAssertTrue(readSafetensors(full, "the intact file"))
        for cut in 0..<full.count {
            XCTAssertFalse(readSafetensors(full.prefix(cut), "cut at \(cut)"), "a file cut at \(cut) of \(full.count) bytes opened")
        }
        var rng = SplitMix64(seed: 2025)
        var opened = 0
        for i in 0..<500 {
            let (data, what) = flipped(full, &rng, i)
            if readSafetensors(data, what) { opened += 1 }
        }
        print("safetensors fuzz: \(full.count) truncations rejected; \(opened) of 500 flipped files still opened")
    }
}

import XCTest
import Foundation
import EffiFormats
@testable import EffiTokenizer

/// Token ids against fixtures written by Hugging Face `tokenizers` (scripts/reference_tokenizer.py)
/// from the same vocabularies: every line must match exactly, and decode must give the text back.
final class TokenizerParityTests: XCTestCase {
    struct Line: Decodable { let text: String; let ids: [Int32] }
    struct Meta: Decodable {
        let decode_not_identity_lines: [Int]?
    }

    static func fixture(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/tokenizer/" + name, withExtension: nil), "fixture \(name)")
    }

    func checkParity(_ tokenizer: Tokenizer, fixture: String, minimumLines: Int) throws {
        let text = try String(contentsOf: Self.fixture(fixture + ".jsonl"), encoding: .utf8)
        let lines = try text.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: Self.fixture(fixture + ".meta.json")))
        let notIdentity = Set(meta.decode_not_identity_lines ?? [])
        XCTAssertGreaterThanOrEqual(lines.count, minimumLines)
        var mismatches = 0, decodeMismatches = 0
        for (number, line) in lines.enumerated() {
            let ids = tokenizer.encode(line.text)
            if ids != line.ids {
                mismatches += 1
                if mismatches <= 5 { XCTFail("\(fixture) line \(number) \(line.text.debugDescription): got \(ids), expected \(line.ids)") }
            }
            // Bytes, not Strings: String == treats NFC and NFD spellings as equal.
            if !notIdentity.contains(number) && Array(tokenizer.decode(line.ids).utf8) != Array(line.text.utf8) {
                decodeMismatches += 1
                if decodeMismatches <= 5 { XCTFail("\(fixture) line \(number): decode gives \(tokenizer.decode(line.ids).debugDescription)") }
            }
        }
        XCTAssertEqual(mismatches, 0, "\(fixture): \(mismatches) of \(lines.count) lines differ")
        XCTAssertEqual(decodeMismatches, 0, "\(fixture): \(decodeMismatches) lines do not decode to their text")
        print("\(fixture): \(lines.count - mismatches)/\(lines.count) lines identical")
    }

    func testSmolLM2FromGGUF() throws {
        let path = PinnedFiles.smolLM2
        guard FileManager.default.fileExists(atPath: path) else { return XCTFail("\(path) is missing: run scripts/setup.sh") }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        XCTAssertEqual(tokenizer.preTokenizer, .smollm)
        XCTAssertEqual(tokenizer.encode("The capital of France is Paris. The capital of Germany is Berlin. The capital of Italy is"),
                       [504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314, 11452, 30, 378, 3575, 282, 7158, 314])
        try checkParity(tokenizer, fixture: "smollm2", minimumLines: 2000)
    }

    func testQwen25CoderFromGGUF() throws {
        let path = PinnedFiles.qwen25Coder
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is absent (491 MB; fetch it with scripts/setup.sh qwen2.5-coder-0.5b)")
        }
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        XCTAssertEqual(tokenizer.preTokenizer, .qwen2)
        try checkParity(tokenizer, fixture: "qwen2.5-coder", minimumLines: 2000)
    }

    func testTokenizerJSONFamilies() throws {
        for (family, expected) in [("gpt2", PreTokenizer.gpt2), ("llama3", .llama3), ("qwen2", .qwen2)] {
            let tokenizer = try Tokenizer(tokenizerJSON: Self.fixture("tiny-\(family).tokenizer.json").path)
            XCTAssertEqual(tokenizer.preTokenizer, expected)
            try checkParity(tokenizer, fixture: "tiny-\(family)", minimumLines: 500)
        }
    }

    // MARK: - written out for other tools, read back

    /// The tokenizer written as tokenizer.json + tokenizer_config.json and as GGUF metadata, each
    /// read back: both must still match the `tokenizers` fixture line for line.
    func checkExported(_ tokenizer: Tokenizer, fixture: String, minimumLines: Int) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-tok-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, object) in [("tokenizer.json", try tokenizer.huggingFaceJSON(source: fixture)),
                               ("tokenizer_config.json", tokenizer.huggingFaceConfigJSON(contextLength: 2048))] {
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
        let fromJSON = try Tokenizer(tokenizerJSON: folder + "/tokenizer.json")
        XCTAssertEqual(fromJSON.vocabulary, tokenizer.vocabulary)
        XCTAssertEqual(fromJSON.specialTokens, tokenizer.specialTokens)
        XCTAssertEqual([fromJSON.bosID, fromJSON.eosID], [tokenizer.bosID, tokenizer.eosID])
        XCTAssertEqual(fromJSON.addsBOS, tokenizer.addsBOS)
        XCTAssertEqual(fromJSON.chatTemplateSource, tokenizer.chatTemplateSource)
        try checkParity(fromJSON, fixture: fixture, minimumLines: minimumLines)

        var writer = GGUFWriter()
        writer.set("general.architecture", string: "llama")
        for e in tokenizer.ggufMetadata { writer.set(e.key, e.value, as: e.type) }
        try writer.write(to: folder + "/tokenizer.gguf")
        let fromGGUF = try Tokenizer(gguf: GGUFFile(path: folder + "/tokenizer.gguf"))
        XCTAssertEqual(fromGGUF.vocabulary, tokenizer.vocabulary)
        XCTAssertEqual(fromGGUF.specialTokens, tokenizer.specialTokens)
        XCTAssertEqual(fromGGUF.preTokenizer, tokenizer.preTokenizer)
        try checkParity(fromGGUF, fixture: fixture, minimumLines: minimumLines)
    }

    func testSmolLM2WrittenOutAndReadBack() throws {
        let path = PinnedFiles.smolLM2
        guard FileManager.default.fileExists(atPath: path) else { return XCTFail("\(path) is missing: run scripts/setup.sh") }
        try checkExported(try Tokenizer(gguf: GGUFFile(path: path)), fixture: "smollm2", minimumLines: 2000)
    }

    func testQwen25CoderWrittenOutAndReadBack() throws {
        let path = PinnedFiles.qwen25Coder
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is absent (491 MB; fetch it with scripts/setup.sh qwen2.5-coder-0.5b)")
        }
        try checkExported(try Tokenizer(gguf: GGUFFile(path: path)), fixture: "qwen2.5-coder", minimumLines: 2000)
    }

    func testTokenizerJSONFamiliesWrittenOutAndReadBack() throws {
        for family in ["gpt2", "llama3", "qwen2"] {
            try checkExported(try Tokenizer(tokenizerJSON: Self.fixture("tiny-\(family).tokenizer.json").path),
                              fixture: "tiny-\(family)", minimumLines: 500)
        }
    }
}

import XCTest
import Foundation
import EffiFormats
@testable import EffiTokenizer

final class TextAndChatTests: XCTestCase {
    nonisolated(unsafe) static var smolLM2: Tokenizer?

    func tokenizer() throws -> Tokenizer {
        if let t = Self.smolLM2 { return t }
        let path = PinnedFiles.smolLM2
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is missing: run scripts/setup.sh") }
        let t = try Tokenizer(gguf: GGUFFile(path: path))
        Self.smolLM2 = t
        return t
    }

    /// Streaming one token at a time gives the same text as decoding at once, and never emits half
    /// a character, even where tokens split multi-byte characters.
    func testStreamingHoldsBackPartialCharacters() throws {
        let t = try tokenizer()
        let text = "Emoji 👩‍👩‍👧‍👦 and 🇫🇷, CJK 東京都, Hindi नमस्ते, done."
        let ids = t.encode(text)
        XCTAssertTrue(ids.contains { String(validating: t.bytes(of: $0), as: UTF8.self) == nil },
                      "the text should include tokens that hold partial characters")
        var stream = TextStream(tokenizer: t)
        var pieces: [String] = []
        for id in ids { pieces.append(stream.append(id)) }
        pieces.append(stream.finish())
        XCTAssertFalse(pieces.joined().contains("\u{FFFD}"))
        XCTAssertEqual(pieces.joined(), text)
    }

    /// Pieces of tens of thousands of bytes (a run of one symbol, a base64 line) encode and decode
    /// back; the heap-based merge loop keeps this O(n log n).
    func testVeryLongPiecesRoundTrip() throws {
        let t = try tokenizer()
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/")
        for text in [String(repeating: "=", count: 50_000), String((0..<50_000).map { _ in alphabet.randomElement(using: &rng)! })] {
            let ids = t.encode(text)
            XCTAssertLessThan(ids.count, text.count)
            XCTAssertEqual(t.decode(ids), text)
        }
    }

    func testIncompleteSuffixLength() {
        XCTAssertEqual(TextStream.incompleteSuffixLength([]), 0)
        XCTAssertEqual(TextStream.incompleteSuffixLength(Array("a".utf8)), 0)
        XCTAssertEqual(TextStream.incompleteSuffixLength(Array("é".utf8)), 0)
        XCTAssertEqual(TextStream.incompleteSuffixLength(Array(Array("é".utf8).prefix(1))), 1)
        XCTAssertEqual(TextStream.incompleteSuffixLength(Array(Array("😀".utf8).prefix(3))), 3)
        XCTAssertEqual(TextStream.incompleteSuffixLength(Array("😀".utf8)), 0)
    }

    /// The SmolLM2 template inserts its default system message; the text is what
    /// `apply_chat_template(messages, add_generation_prompt=True)` renders for it.
    func testChatMLWithTheTemplatesDefaultSystemMessage() throws {
        let t = try tokenizer()
        let template = try ChatTemplate(source: t.chatTemplateSource, origin: "SmolLM2")
        XCTAssertEqual(template.defaultSystem, "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        XCTAssertEqual(template.render([ChatMessage(role: "user", content: "Hi")]),
                       "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                       + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(template.render([ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi")]),
                       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let ids = t.encode(template.render([ChatMessage(role: "user", content: "Hi")]))
        XCTAssertEqual(ids.first, t.specialTokens["<|im_start|>"])
    }

    /// Qwen2.5's template builds a system message in Jinja for tools, then writes its default literally.
    func testQwenDefaultSystemMessage() throws {
        let path = PinnedFiles.qwen25Coder
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is absent (491 MB; fetch it with scripts/setup.sh qwen2.5-coder-0.5b)")
        }
        let source = try GGUFFile(path: path).metadata["tokenizer.chat_template"]?.string
        let template = try ChatTemplate(source: source, origin: path)
        XCTAssertEqual(template.defaultSystem, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
    }

    func testUnsupportedTemplatesAreErrors() {
        XCTAssertThrowsError(try ChatTemplate(source: nil, origin: "m.gguf")) {
            XCTAssertTrue("\($0)".contains("m.gguf: the model has no chat template"), "\($0)")
        }
        let llama2 = "{% for message in messages %}{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}"
        XCTAssertThrowsError(try ChatTemplate(source: llama2, origin: "m.gguf")) {
            XCTAssertTrue("\($0)".contains("is not ChatML"), "\($0)")
        }
    }

    func testUnsupportedTokenizerJSONIsAnErrorNamingTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-tok-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try String(contentsOf: TokenizerParityTests.fixture("tiny-gpt2.tokenizer.json"), encoding: .utf8)
        func edited(_ change: (inout [String: Any]) -> Void) throws -> String {
            var root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(source.utf8)) as? [String: Any])
            change(&root)
            return String(decoding: try JSONSerialization.data(withJSONObject: root), as: UTF8.self)
        }
        let cases = [
            ("wordpiece.json", try edited { root in
                var model = root["model"] as! [String: Any]
                model["type"] = "WordPiece"
                root["model"] = model
            }, "only byte-level BPE"),
            ("broken.json", String(source.prefix(source.count / 2)), "not valid JSON"),
            ("metaspace.json", try edited { $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"] }, "pre_tokenizer"),
            ("nfkc.json", try edited { $0["normalizer"] = ["type": "NFKC"] }, "normalizer"),
            ("huge-id.json", try edited { root in
                var model = root["model"] as! [String: Any], vocab = model["vocab"] as! [String: Int]
                vocab["Ġhuge"] = 1 << 40
                model["vocab"] = vocab
                root["model"] = model
            }, "token Ġhuge has id 1099511627776"),
            // Without merges (or with a mistyped list) BPE would encode character by character.
            ("merges-number.json", try edited { root in
                var model = root["model"] as! [String: Any]
                model["merges"] = 5
                root["model"] = model
            }, "model.merges is a number (5), expected a non-empty list of merges"),
            ("no-merges.json", try edited { root in
                var model = root["model"] as! [String: Any]
                model["merges"] = nil
                root["model"] = model
            }, "model.merges is missing, expected a non-empty list of merges"),
            ("unk.json", try edited { root in
                var model = root["model"] as! [String: Any]
                model["unk_token"] = "<nowhere>"
                root["model"] = model
            }, "model.unk_token \"<nowhere>\" is not a token of the vocabulary"),
        ]
        for (name, text, message) in cases {
            XCTAssertNotEqual(text, source, name)
            let path = dir.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: path), name) {
                XCTAssertTrue("\($0)".hasPrefix(path) && "\($0)".contains(message), "\($0)")
            }
        }
    }

    /// Plain-text encoding (chat content) keeps control tokens as text but still matches added
    /// tokens that are not special (`"special": false`, e.g. `<think>`), as `tokenizers` does.
    func testPlainTextKeepsNonSpecialAddedTokens() throws {
        let source = try String(contentsOf: TokenizerParityTests.fixture("tiny-gpt2.tokenizer.json"), encoding: .utf8)
        var root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(source.utf8)) as? [String: Any])
        let model = try XCTUnwrap(root["model"] as? [String: Any]), vocab = try XCTUnwrap(model["vocab"] as? [String: Int])
        var added = (root["added_tokens"] as? [[String: Any]]) ?? []
        let ids = Set(vocab.values).union(added.compactMap { $0["id"] as? Int })
        let next = (ids.max() ?? 0) + 1
        XCTAssertEqual(ids.count, next, "ids 0..<next, without holes")
        added += [["id": next, "content": "<think>", "special": false], ["id": next + 1, "content": "<|ctl|>", "special": true]]
        root["added_tokens"] = added
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-added-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let t = try Tokenizer(tokenizerJSON: path)
        let plain = t.encodeText("a<think>b<|ctl|>", specialTokens: false)
        XCTAssertTrue(plain.contains(Int32(next)), "the user-defined token still matches")
        XCTAssertFalse(plain.contains(Int32(next + 1)), "the control token stays text")
        XCTAssertTrue(t.encodeText("<|ctl|>", specialTokens: true).contains(Int32(next + 1)))
    }
}

import EffiFormats
import Foundation

extension Tokenizer {
    /// From a Hugging Face `tokenizer.json` (a byte-level BPE model), with BOS/EOS and the chat
    /// template from `tokenizer_config.json` beside it when present.
    public convenience init(tokenizerJSON path: String) throws {
        let root = try readJSONObject(path)
        guard let model = root["model"] as? [String: Any], model["type"] as? String == "BPE" else {
            throw FormatError(path, "model.type is not BPE; only byte-level BPE tokenizers are supported")
        }
        guard let vocab = model["vocab"] as? [String: Int] else { throw FormatError(path, "model.vocab is not an object of token ids") }
        let addedTokens = (root["added_tokens"] as? [[String: Any]]) ?? []
        let entries = vocab.count + addedTokens.count
        var vocabulary = [String](), taken = [Bool]()
        func place(_ token: String, _ id: Int) throws {
            guard id >= 0, id < entries else {
                throw FormatError(path, "token \(token) has id \(id), outside 0..<\(entries) (the number of vocabulary and added entries)")
            }
            if id >= vocabulary.count {
                vocabulary += [String](repeating: "", count: id + 1 - vocabulary.count)
                taken += [Bool](repeating: false, count: id + 1 - taken.count)
            }
            if taken[id] && vocabulary[id] != token { throw FormatError(path, "id \(id) is given to both \(vocabulary[id]) and \(token)") }
            vocabulary[id] = token
            taken[id] = true
        }
        for (token, id) in vocab { try place(token, id) }
        var specials: [String: Int32] = [:], control: Set<Int32> = []
        for (i, added) in addedTokens.enumerated() {
            guard let content = added["content"] as? String, let id = added["id"] as? Int else {
                throw FormatError(path, "added_tokens[\(i)] lacks content or id")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where added[flag] as? Bool == true {
                throw FormatError(path, "added token \(content) sets \(flag), which is not supported")
            }
            try place(content, id)
            specials[content] = Int32(id)
            if added["special"] as? Bool != false { control.insert(Int32(id)) }
        }
        if let hole = taken.firstIndex(of: false) { throw FormatError(path, "no token has id \(hole)") }
        // Without merges a BPE model encodes character by character: a missing or mistyped list
        // is a damaged file, not a tokenizer.
        guard let mergeList = model["merges"] as? [Any], !mergeList.isEmpty else {
            throw FormatError(path, "model.merges is \(JSONKind.describe(model["merges"])), expected a non-empty list of merges")
        }
        let merges = try mergeList.enumerated().map { i, merge -> (String, String) in
            if let pair = merge as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let line = merge as? String, let space = line.firstIndex(of: " ") {
                return (String(line[..<space]), String(line[line.index(after: space)...]))
            }
            throw FormatError(path, "model.merges[\(i)] is neither \"a b\" nor [a, b]")
        }
        if model["byte_fallback"] as? Bool == true { throw FormatError(path, "model.byte_fallback is not supported") }
        let folder = (path as NSString).deletingLastPathComponent
        let configPath = folder + "/tokenizer_config.json"
        let config = FileManager.default.fileExists(atPath: configPath) ? try readJSONObject(configPath) : nil
        /// A token tokenizer_config.json names (by its text), which must exist.
        func configToken(_ key: String) throws -> Int32? {
            let value = config?[key]
            guard let content = (value as? String) ?? ((value as? [String: Any])?["content"] as? String) else { return nil }
            guard let id = vocab[content] ?? specials[content].map(Int.init) else {
                throw FormatError(configPath, "\(key) \"\(content.prefix(40))\" is not a token of \(path)")
            }
            return Int32(id)
        }
        var unknownID: Int32?
        if let unknown = model["unk_token"], !(unknown is NSNull) {
            guard let name = unknown as? String, let id = vocab[name] ?? specials[name].map(Int.init) else {
                throw FormatError(path, "model.unk_token \(JSONKind.render(unknown)) is not a token of the vocabulary")
            }
            unknownID = Int32(id)
        }
        let bosPrefix = try Self.bosPrefix(root["post_processor"], vocabulary: vocab, specials: specials, path: path)
        try self.init(vocabulary: vocabulary, merges: merges,
                      preTokenizer: try Self.preTokenizer(root["pre_tokenizer"], path: path),
                      normalizesNFC: try Self.normalizesNFC(root["normalizer"], path: path),
                      ignoreMerges: model["ignore_merges"] as? Bool ?? false, specialTokens: specials, controlTokens: control,
                      bosID: try bosPrefix ?? configToken("bos_token"), eosID: try configToken("eos_token"),
                      unknownID: unknownID,
                      addsBOS: bosPrefix != nil, chatTemplate: try Self.chatTemplate(config: config, configPath: configPath, folder: folder), source: path)
    }

    /// The chat template: `chat_template.jinja` beside the tokenizer (newer transformers), or
    /// tokenizer_config.json's `chat_template` (a string, or a list of named templates: "default").
    static func chatTemplate(config: [String: Any]?, configPath: String, folder: String) throws -> String? {
        let jinja = folder + "/chat_template.jinja"
        if FileManager.default.fileExists(atPath: jinja) {
            guard let data = FileManager.default.contents(atPath: jinja), let text = String(data: data, encoding: .utf8) else {
                throw FormatError(jinja, "cannot be read as UTF-8 text")
            }
            return text
        }
        switch config?["chat_template"] {
        case nil, is NSNull: return nil
        case let text as String: return text
        case let named as [[String: Any]]:
            guard let text = named.first(where: { $0["name"] as? String == "default" })?["template"] as? String else {
                throw FormatError(configPath, "chat_template lists named templates but none named \"default\"")
            }
            return text
        case let other: throw FormatError(configPath, "chat_template is \(JSONKind.describe(other)), expected a string or a list of named templates")
        }
    }

    /// The pre-tokenizer configurations of the supported families.
    static func preTokenizer(_ json: Any?, path: String) throws -> PreTokenizer {
        let parts = sequence(json)
        func type(_ i: Int) -> String? { parts.count > i ? parts[i]["type"] as? String : nil }
        func byteLevel(_ i: Int, useRegex: Bool) -> Bool {
            type(i) == "ByteLevel" && (parts[i]["use_regex"] as? Bool ?? true) == useRegex
                && parts[i]["add_prefix_space"] as? Bool != true
        }
        if parts.count == 1, byteLevel(0, useRegex: true) { return .gpt2 }
        if parts.count == 2, type(0) == "Digits", parts[0]["individual_digits"] as? Bool == true, byteLevel(1, useRegex: true) {
            return .smollm
        }
        if parts.count == 2, type(0) == "Split", byteLevel(1, useRegex: false),
           (parts[0]["behavior"] as? String)?.lowercased() == "isolated", parts[0]["invert"] as? Bool != true,
           let regex = (parts[0]["pattern"] as? [String: Any])?["Regex"] as? String {
            if regex == PreTokenizer.llama3Pattern { return .llama3 }
            if regex == PreTokenizer.qwen2Pattern { return .qwen2 }
        }
        throw FormatError(path, "pre_tokenizer \(JSONKind.render(json)) is not one of the supported byte-level families (GPT-2, SmolLM, Llama 3, Qwen2)")
    }

    static func normalizesNFC(_ json: Any?, path: String) throws -> Bool {
        let types = sequence(json, key: "normalizers").map { $0["type"] as? String ?? "?" }
        if types.isEmpty { return false }
        if types == ["NFC"] { return true }
        throw FormatError(path, "normalizer \(JSONKind.render(json)) is not supported (none or NFC)")
    }

    /// The BOS id a TemplateProcessing post-processor puts before each sequence, if any.
    static func bosPrefix(_ json: Any?, vocabulary: [String: Int], specials: [String: Int32], path: String) throws -> Int32? {
        for processor in sequence(json, key: "processors") {
            switch processor["type"] as? String {
            case "ByteLevel": continue
            case "TemplateProcessing":
                let single = (processor["single"] as? [[String: Any]]) ?? []
                let kinds = single.map { $0.keys.first ?? "" }
                if kinds == ["Sequence"] { continue }
                if kinds == ["SpecialToken", "Sequence"], let token = (single[0]["SpecialToken"] as? [String: Any])?["id"] as? String,
                   let id = specials[token] ?? vocabulary[token].map(Int32.init) {
                    return id
                }
                fallthrough
            default:
                throw FormatError(path, "post_processor \(JSONKind.render(processor)) is not supported (ByteLevel, or a template that only adds BOS)")
            }
        }
        return nil
    }

    /// A component and, for a `Sequence`, its members.
    private static func sequence(_ json: Any?, key: String = "pretokenizers") -> [[String: Any]] {
        guard let object = json as? [String: Any] else { return [] }
        if object["type"] as? String == "Sequence" { return (object[key] as? [[String: Any]]) ?? [] }
        return [object]
    }
}

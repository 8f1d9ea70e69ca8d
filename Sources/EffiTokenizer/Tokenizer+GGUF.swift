import EffiFormats

extension Tokenizer {
    /// From a GGUF file's `tokenizer.ggml.*` metadata (`model = gpt2`, i.e. byte-level BPE).
    public convenience init(gguf: GGUFFile) throws {
        let path = gguf.path
        func strings(_ key: String) throws -> [String] {
            guard let values = gguf.metadata[key]?.array else { throw FormatError(path, "metadata \(key) is missing or not an array") }
            return try values.enumerated().map { i, v in
                guard let s = v.string else { throw FormatError(path, "metadata \(key)[\(i)] is not a string") }
                return s
            }
        }
        func id(_ key: String) -> Int32? { gguf.metadata[key]?.int.flatMap { Int32(exactly: $0) } }
        let model = gguf.metadata["tokenizer.ggml.model"]?.string ?? "(missing)"
        guard model == "gpt2" else {
            throw FormatError(path, "tokenizer.ggml.model is \(model); only byte-level BPE (gpt2) is supported")
        }
        let pre = gguf.metadata["tokenizer.ggml.pre"]?.string ?? "(missing)"
        let preTokenizer: PreTokenizer
        switch pre {
        case "smollm": preTokenizer = .smollm
        case "qwen2": preTokenizer = .qwen2
        case "llama-bpe", "llama3": preTokenizer = .llama3
        case "gpt-2", "gpt2": preTokenizer = .gpt2
        default: throw FormatError(path, "tokenizer.ggml.pre \(pre) is not supported (smollm, qwen2, llama-bpe, gpt-2)")
        }
        let tokens = try strings("tokenizer.ggml.tokens")
        let merges = try strings("tokenizer.ggml.merges").enumerated().map { i, line in
            guard let space = line.firstIndex(of: " ") else { throw FormatError(path, "tokenizer.ggml.merges[\(i)] \"\(line)\" is not two tokens separated by a space") }
            return (String(line[..<space]), String(line[line.index(after: space)...]))
        }
        // Token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
        guard let types = gguf.metadata["tokenizer.ggml.token_type"]?.array?.map({ $0.int ?? 0 }) else {
            throw FormatError(path, "tokenizer.ggml.token_type is missing, so the special tokens are unknown")
        }
        guard types.count == tokens.count else {
            throw FormatError(path, "tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        if let bad = types.firstIndex(where: { !(1...6).contains($0) }) {
            throw FormatError(path, "tokenizer.ggml.token_type[\(bad)] is \(types[bad]), expected 1…6 (normal, unknown, control, user-defined, unused, byte)")
        }
        if gguf.metadata["tokenizer.ggml.add_eos_token"] == .bool(true) {
            throw FormatError(path, "tokenizer.ggml.add_eos_token is true, which is not supported")
        }
        var specials: [String: Int32] = [:]
        for (i, type) in types.enumerated() where type == 3 || type == 4 { specials[tokens[i]] = Int32(i) }
        try self.init(vocabulary: tokens, merges: merges, preTokenizer: preTokenizer, normalizesNFC: preTokenizer == .qwen2,
                      ignoreMerges: preTokenizer == .llama3, specialTokens: specials,
                      controlTokens: Set(types.enumerated().filter { $0.element == 3 }.map { Int32($0.offset) }),
                      bosID: id("tokenizer.ggml.bos_token_id"), eosID: id("tokenizer.ggml.eos_token_id"),
                      endOfTurnID: id("tokenizer.ggml.eot_token_id"),
                      // GGUF names an unknown token, but the models' tokenizer.json files have
                      // unk_token null, so `tokenizers` drops bytes the vocabulary lacks.
                      unknownID: nil,
                      addsBOS: gguf.metadata["tokenizer.ggml.add_bos_token"] == .bool(true),
                      chatTemplate: gguf.metadata["tokenizer.chat_template"]?.string, source: path)
    }
}

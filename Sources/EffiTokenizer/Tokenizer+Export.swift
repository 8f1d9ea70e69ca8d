import EffiFormats
import Foundation

/// The tokenizer written out for other tools: a Hugging Face `tokenizer.json` (+
/// `tokenizer_config.json`) or GGUF `tokenizer.ggml.*` metadata. Both read back into the same
/// tokenizer: the vocabulary, the merges in rank order, the pre-tokenizer family, the special
/// tokens (matched before BPE), BOS/EOS and the chat template.
extension Tokenizer {
    /// The merges in rank order, as pairs of token spellings.
    public var orderedMerges: [(String, String)] {
        bpe.merges.sorted { $0.value.rank < $1.value.rank }.map { key, _ in
            (vocabulary[Int(UInt32(truncatingIfNeeded: key >> 32))], vocabulary[Int(UInt32(truncatingIfNeeded: key))])
        }
    }

    /// The `tokenizer.json` object (tokenizers' BPE model with this family's pre-tokenizer).
    public func huggingFaceJSON(source: String) throws -> [String: Any] {
        var vocab: [String: Int] = [:]
        for (id, token) in vocabulary.enumerated() {
            guard vocab[token] == nil else {
                throw FormatError(source, "token \(token.debugDescription) appears twice in the vocabulary (ids \(vocab[token]!) and \(id)); tokenizer.json cannot hold both")
            }
            vocab[token] = id
        }
        let added: [[String: Any]] = specialTokens.sorted { $0.value < $1.value }.map { token, id in
            ["id": Int(id), "content": token, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true]
        }
        func byteLevel(regex: Bool) -> [String: Any] {
            ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": regex, "use_regex": regex]
        }
        let pre: [String: Any]
        switch preTokenizer {
        case .gpt2: pre = byteLevel(regex: true)
        case .smollm:
            pre = ["type": "Sequence", "pretokenizers": [["type": "Digits", "individual_digits": true], byteLevel(regex: true)]]
        case .llama3, .qwen2:
            let split: [String: Any] = ["type": "Split", "behavior": "Isolated", "invert": false,
                                        "pattern": ["Regex": preTokenizer == .llama3 ? PreTokenizer.llama3Pattern : PreTokenizer.qwen2Pattern]]
            pre = ["type": "Sequence", "pretokenizers": [split, byteLevel(regex: false)]]
        }
        var post: Any = byteLevel(regex: false)
        if addsBOS, let bos = bosID {
            let name = vocabulary[Int(bos)]
            post = ["type": "TemplateProcessing",
                    "single": [["SpecialToken": ["id": name, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                    "pair": [["SpecialToken": ["id": name, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                             ["SpecialToken": ["id": name, "type_id": 1]], ["Sequence": ["id": "B", "type_id": 1]]],
                    "special_tokens": [name: ["id": name, "ids": [Int(bos)], "tokens": [name]]]] as [String: Any]
        }
        let model: [String: Any] = [
            "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
            "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": bpe.ignoreMerges,
            "vocab": vocab, "merges": orderedMerges.map { [$0.0, $0.1] },
        ]
        return ["version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
                "normalizer": normalizesNFC ? ["type": "NFC"] as Any : NSNull(), "pre_tokenizer": pre, "post_processor": post,
                "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true], "model": model]
    }

    /// The `tokenizer_config.json` object: BOS/EOS, whether BOS is added, the chat template.
    public func huggingFaceConfigJSON(contextLength: Int) -> [String: Any] {
        var c: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": false,
                                "model_max_length": contextLength, "add_bos_token": addsBOS, "add_eos_token": false]
        if let bos = bosID { c["bos_token"] = vocabulary[Int(bos)] }
        if let eos = eosID { c["eos_token"] = vocabulary[Int(eos)] }
        if let template = chatTemplateSource { c["chat_template"] = template }
        return c
    }

    /// GGUF `tokenizer.ggml.*` metadata (model gpt2, the pre-tokenizer's llama.cpp name) with the
    /// types llama.cpp expects.
    public var ggufMetadata: [(key: String, value: GGUFValue, type: GGUFType)] {
        let pre: String = switch preTokenizer {
        case .gpt2: "gpt-2"
        case .smollm: "smollm"
        case .llama3: "llama-bpe"
        case .qwen2: "qwen2"
        }
        var entries: [(key: String, value: GGUFValue, type: GGUFType)] = [
            ("tokenizer.ggml.model", .string("gpt2"), .string),
            ("tokenizer.ggml.pre", .string(pre), .string),
            ("tokenizer.ggml.tokens", .array(vocabulary.map { .string($0) }), .array(of: .string)),
            // 3 = control (matched before BPE), 1 = normal.
            ("tokenizer.ggml.token_type", .array(vocabulary.enumerated().map { id, token in
                .int(specialTokens[token] == Int32(id) ? 3 : 1) }), .array(of: .int32)),
            ("tokenizer.ggml.merges", .array(orderedMerges.map { .string($0.0 + " " + $0.1) }), .array(of: .string)),
        ]
        for (key, id) in [("bos_token_id", bosID), ("eos_token_id", eosID), ("eot_token_id", endOfTurnID)] {
            if let id { entries.append(("tokenizer.ggml." + key, .uint(UInt64(id)), .uint32)) }
        }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(addsBOS), .bool))
        if let template = chatTemplateSource { entries.append(("tokenizer.chat_template", .string(template), .string)) }
        return entries
    }
}

import EffiFormats
import Foundation

/// A byte-level BPE tokenizer (GPT-2, Llama 3, Qwen2, SmolLM): special tokens are matched in the
/// raw text first, the rest is normalized, pre-tokenized into pieces, and each piece's UTF-8 bytes
/// are BPE-encoded.
public final class Tokenizer: @unchecked Sendable {
    /// Token spellings by id (byte-level characters, e.g. "Ġthe" for " the").
    public let vocabulary: [String]
    public let preTokenizer: PreTokenizer
    /// Added tokens matched verbatim in the text before BPE, e.g. "<|im_start|>".
    public let specialTokens: [String: Int32]
    /// The special tokens that are control tokens (GGUF type 3, Hugging Face `special: true`);
    /// the others (user-defined added tokens such as `<think>`) match in any text.
    public let controlTokens: Set<Int32>
    public let bosID: Int32?
    public let eosID: Int32?
    /// End of turn, where the model names one apart from EOS (GGUF `tokenizer.ggml.eot_token_id`).
    public let endOfTurnID: Int32?
    /// Whether `encode` starts with the BOS token.
    public let addsBOS: Bool
    /// The chat template text from the model, when it has one.
    public let chatTemplateSource: String?

    let idOfToken: [String: Int32]
    let bpe: BPE
    let normalizesNFC: Bool
    /// The bytes each id decodes to.
    let bytesOfToken: [[UInt8]]
    /// Special tokens by their first scalar, longest first, for leftmost-longest matching.
    let specialsByFirstScalar: [Unicode.Scalar: [(scalars: [Unicode.Scalar], id: Int32)]]
    private var cache: [[UInt8]: [Int32]] = [:]
    private let cacheLock = NSLock()

    /// - Parameters:
    ///   - merges: pairs of token spellings in rank order (rank = index).
    ///   - unknownID: the token for a byte the vocabulary lacks; nil drops such bytes.
    ///   - source: the file the vocabulary came from, for error messages.
    public init(vocabulary: [String], merges: [(String, String)], preTokenizer: PreTokenizer, normalizesNFC: Bool,
                ignoreMerges: Bool, specialTokens: [String: Int32], controlTokens: Set<Int32>? = nil, bosID: Int32?, eosID: Int32?,
                endOfTurnID: Int32? = nil, unknownID: Int32?, addsBOS: Bool, chatTemplate: String?, source: String) throws {
        self.vocabulary = vocabulary
        self.preTokenizer = preTokenizer
        self.normalizesNFC = normalizesNFC
        self.specialTokens = specialTokens
        self.controlTokens = controlTokens ?? Set(specialTokens.values)
        self.bosID = bosID
        self.eosID = eosID
        self.endOfTurnID = endOfTurnID
        self.addsBOS = addsBOS
        chatTemplateSource = chatTemplate
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (id, token) in vocabulary.enumerated() where ids[token] == nil { ids[token] = Int32(id) }
        idOfToken = ids
        guard ids[String(ByteLevel.characterOfByte[32])] != nil else {
            throw FormatError(source, "the vocabulary has no token \"Ġ\" for the space byte, so it is not byte-level BPE")
        }
        // Vocabularies trained on text that never held some bytes (control characters) lack their
        // tokens; as in `tokenizers`, such a byte becomes the unknown token, or is dropped when
        // there is none (SmolLM2 has no token for bytes 4, 6, 19, 20, 22 and 29).
        let byteTokens = (0...255).map { ids[String(ByteLevel.characterOfByte[$0])] ?? unknownID ?? -1 }
        var table: [UInt64: BPE.Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let l = ids[left], let r = ids[right], let result = ids[left + right] else {
                throw FormatError(source, "merge \(rank) \"\(left) \(right)\" names a token that is not in the vocabulary")
            }
            let key = BPE.key(l, r)
            if table[key] == nil { table[key] = BPE.Merge(rank: Int32(rank), result: result) }
        }
        bpe = BPE(merges: table, byteTokens: byteTokens, ignoreMerges: ignoreMerges)
        for (token, id) in specialTokens where !(0..<Int32(vocabulary.count)).contains(id) {
            throw FormatError(source, "special token \(token) has id \(id), outside the vocabulary of \(vocabulary.count)")
        }
        for (role, id) in [("BOS", bosID), ("EOS", eosID), ("end-of-turn", endOfTurnID), ("unknown", unknownID)] {
            if let id, !(0..<Int32(vocabulary.count)).contains(id) {
                throw FormatError(source, "the \(role) token id \(id) is outside the vocabulary of \(vocabulary.count)")
            }
        }
        bytesOfToken = vocabulary.enumerated().map { id, token in
            specialTokens[token] == Int32(id) ? Array(token.utf8) : ByteLevel.decode(token) ?? Array(token.utf8)
        }
        var specials: [Unicode.Scalar: [(scalars: [Unicode.Scalar], id: Int32)]] = [:]
        for (token, id) in specialTokens where !token.isEmpty {
            let scalars = Array(token.unicodeScalars)
            specials[scalars[0], default: []].append((scalars, id))
        }
        specialsByFirstScalar = specials.mapValues { $0.sorted { $0.scalars.count > $1.scalars.count } }
    }

    public var count: Int { vocabulary.count }

    public func id(of token: String) -> Int32? { idOfToken[token] }

    /// Token ids of `text`, BOS first when the tokenizer adds one; special-token spellings in the
    /// text become their ids.
    public func encode(_ text: String) -> [Int32] {
        (addsBOS ? bosID.map { [$0] } ?? [] : []) + encodeText(text, specialTokens: true)
    }

    /// Token ids of `text` alone (no BOS). With `specialTokens` false a control token's spelling
    /// is encoded as ordinary text, as `tokenizers` does with `split_special_tokens` and llama.cpp
    /// with `parse_special = false`: what a user wrote can never become a control token (added
    /// tokens that are not control tokens still match).
    public func encodeText(_ text: String, specialTokens: Bool) -> [Int32] {
        var ids: [Int32] = []
        let scalars = Array(text.unicodeScalars)
        var segmentStart = 0, i = 0
        while i < scalars.count {
            if let match = specialMatch(scalars, at: i, control: specialTokens) {
                encodeOrdinary(scalars[segmentStart..<i], into: &ids)
                ids.append(match.id)
                i += match.length
                segmentStart = i
            } else {
                i += 1
            }
        }
        encodeOrdinary(scalars[segmentStart..<scalars.count], into: &ids)
        return ids
    }

    /// The UTF-8 text of `ids` (invalid byte sequences become U+FFFD).
    public func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.flatMap { bytes(of: $0) }, as: UTF8.self)
    }

    /// The raw bytes one token stands for (a token may hold part of a UTF-8 character); none for
    /// an id past the vocabulary (a model may have more embedding rows than tokens).
    public func bytes(of id: Int32) -> [UInt8] { bytesOfToken.indices.contains(Int(id)) ? bytesOfToken[Int(id)] : [] }

    private func specialMatch(_ s: [Unicode.Scalar], at i: Int, control: Bool) -> (id: Int32, length: Int)? {
        guard let candidates = specialsByFirstScalar[s[i]] else { return nil }
        for candidate in candidates where i + candidate.scalars.count <= s.count && (control || !controlTokens.contains(candidate.id)) {
            if s[i..<i + candidate.scalars.count].elementsEqual(candidate.scalars) { return (candidate.id, candidate.scalars.count) }
        }
        return nil
    }

    private func encodeOrdinary(_ segment: ArraySlice<Unicode.Scalar>, into ids: inout [Int32]) {
        guard !segment.isEmpty else { return }
        var scalars = Array(segment)
        if normalizesNFC {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            scalars = Array(String(view).precomposedStringWithCanonicalMapping.unicodeScalars)
        }
        for piece in preTokenizer.split(scalars) {
            var bytes: [UInt8] = []
            for scalar in scalars[piece] { bytes.append(contentsOf: UTF8.encode(scalar)!) }
            ids.append(contentsOf: encodePiece(bytes))
        }
    }

    private func encodePiece(_ bytes: [UInt8]) -> [Int32] {
        cacheLock.lock()
        let cached = cache[bytes]
        cacheLock.unlock()
        if let cached { return cached }
        let ids = bpe.encode(bytes, wholePiece: bpe.ignoreMerges ? idOfToken[ByteLevel.encode(bytes)] : nil)
        cacheLock.lock()
        if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
        cache[bytes] = ids
        cacheLock.unlock()
        return ids
    }
}

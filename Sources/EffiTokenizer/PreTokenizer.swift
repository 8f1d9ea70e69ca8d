/// The pre-tokenizer splits text into pieces that BPE encodes independently. Each case is one of
/// the regular expressions real byte-level BPE models use, implemented as a scanner over Unicode
/// scalars with the same leftmost-first, backtracking semantics as the regex engines of
/// Hugging Face `tokenizers` (Oniguruma) and llama.cpp.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2:  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    case gpt2
    /// SmolLM: every \p{N} is its own piece (Digits(individual_digits)), then GPT-2's pattern.
    case smollm
    /// Llama 3:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    ///           ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    case llama3
    /// Qwen2: as Llama 3 but with single digits: \p{N} instead of \p{N}{1,3}.
    case qwen2

    /// The regex strings of `tokenizer.json` files that correspond to a case.
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The pieces of `text`, as ranges of its scalars, covering it without gaps.
    func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        switch self {
        case .gpt2: Scanner(s: s).appendPieces(in: 0..<s.count, to: &pieces, match: Scanner.gpt2)
        case .llama3: Scanner(s: s).appendPieces(in: 0..<s.count, to: &pieces) { $0.llama(at: $1, end: $2, maxDigits: 3) }
        case .qwen2: Scanner(s: s).appendPieces(in: 0..<s.count, to: &pieces) { $0.llama(at: $1, end: $2, maxDigits: 1) }
        case .smollm:
            let scanner = Scanner(s: s)
            var start = 0
            for i in s.indices where CharacterClass(s[i]) == .number {
                scanner.appendPieces(in: start..<i, to: &pieces, match: Scanner.gpt2)
                pieces.append(i..<i + 1)
                start = i + 1
            }
            scanner.appendPieces(in: start..<s.count, to: &pieces, match: Scanner.gpt2)
        }
        return pieces
    }
}

/// The classes the patterns distinguish: \p{L}, \p{N}, \s (White_Space) and everything else.
enum CharacterClass {
    case letter, number, space, other

    init(_ c: Unicode.Scalar) {
        if c.isASCII {
            switch c.value {
            case 0x41...0x5A, 0x61...0x7A: self = .letter
            case 0x30...0x39: self = .number
            case 0x09...0x0D, 0x20: self = .space
            default: self = .other
            }
            return
        }
        let p = c.properties
        if p.isWhitespace { self = .space; return }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
        case .decimalNumber, .letterNumber, .otherNumber: self = .number
        default: self = .other
        }
    }
}

/// Matching one piece at a position; each function returns the end of the match (> start).
private struct Scanner {
    let s: [Unicode.Scalar]

    func appendPieces(in range: Range<Int>, to pieces: inout [Range<Int>], match: (Scanner, Int, Int) -> Int) {
        var i = range.lowerBound
        while i < range.upperBound {
            let end = match(self, i, range.upperBound)
            pieces.append(i..<end)
            i = end
        }
    }

    func cls(_ i: Int) -> CharacterClass { CharacterClass(s[i]) }
    func isNewline(_ i: Int) -> Bool { s[i] == "\r" || s[i] == "\n" }

    /// The end of the run of `class` starting at i.
    func run(from i: Int, end: Int, while predicate: (Int) -> Bool) -> Int {
        var j = i
        while j < end && predicate(j) { j += 1 }
        return j
    }

    /// 's 't 're 've 'm 'll 'd, optionally ASCII case-insensitive.
    func contraction(at i: Int, end: Int, ignoringCase: Bool) -> Int? {
        guard s[i] == "'", i + 1 < end else { return nil }
        func lower(_ k: Int) -> Unicode.Scalar? {
            guard k < end else { return nil }
            let c = s[k]
            return ignoringCase && c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 32) : c
        }
        switch lower(i + 1) {
        case "s", "t", "m", "d": return i + 2
        case "r", "v": return lower(i + 2) == "e" ? i + 3 : nil
        case "l": return lower(i + 2) == "l" ? i + 3 : nil
        default: return nil
        }
    }

    /// \s+(?!\S)|\s+ at a whitespace position: the whole run when it ends the text, else the run
    /// less its last scalar (which then prefixes the next piece), but never less than one scalar.
    func whitespace(at i: Int, end: Int) -> Int {
        let e = run(from: i, end: end) { cls($0) == .space }
        return e == end || e - i == 1 ? e : e - 1
    }

    static func gpt2(_ m: Scanner, _ i: Int, _ end: Int) -> Int {
        if let e = m.contraction(at: i, end: end, ignoringCase: false) { return e }
        // ` ?X+` for X in letters, numbers, and neither-nor-space.
        let start = m.s[i] == " " && i + 1 < end && m.cls(i + 1) != .space ? i + 1 : i
        let c = m.cls(start)
        if c != .space { return m.run(from: start, end: end) { m.cls($0) == c } }
        return m.whitespace(at: i, end: end)
    }

    func llama(at i: Int, end: Int, maxDigits: Int) -> Int {
        if let e = contraction(at: i, end: end, ignoringCase: true) { return e }
        let c = cls(i)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c == .letter { return run(from: i, end: end) { cls($0) == .letter } }
        if c != .number && !isNewline(i) && i + 1 < end && cls(i + 1) == .letter {
            return run(from: i + 1, end: end) { cls($0) == .letter }
        }
        // \p{N}{1,maxDigits}
        if c == .number { return run(from: i, end: min(end, i + maxDigits)) { cls($0) == .number } }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        let start = s[i] == " " && i + 1 < end && cls(i + 1) == .other ? i + 1 : i
        if cls(start) == .other {
            let e = run(from: start, end: end) { cls($0) == .other }
            return run(from: e, end: end) { isNewline($0) }
        }
        // \s*[\r\n]+ : through the last newline of the whitespace run.
        let e = run(from: i, end: end) { cls($0) == .space }
        if let lastNewline = (i..<e).last(where: isNewline) { return lastNewline + 1 }
        return whitespace(at: i, end: end)
    }
}

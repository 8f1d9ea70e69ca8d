import EffiCore
import EffiFormats
import Foundation

/// Checks shared by the adapter readers (native, PEFT, llama.cpp): what an adapter file may hold.
enum AdapterInputChecks {
    /// A tensor read from `path` must hold finite numbers: one NaN or Inf would make every output
    /// of the adapted model NaN, or a fused model silently wrong.
    static func requireFinite(_ values: Tensor, tensor name: String, in path: String) throws {
        var bad = 0
        for i in 0..<values.count where !values[i].isFinite { bad += 1 }
        guard bad == 0 else { throw FormatError(path, "tensor \(name) holds \(bad) NaN or infinite values") }
    }

    /// Unbounded quantifiers a PEFT `rank_pattern` / `alpha_pattern` key may use. Real keys are
    /// module names or short patterns (`layers\.\d+\.mlp\..*`); each unbounded quantifier
    /// multiplies the backtracking a failing match can take.
    static let maximumUnboundedQuantifiers = 4

    /// A PEFT pattern key as a regular expression matched as PEFT does (`(.*\.)?(key)$` against a
    /// module name), refused when it does not compile or could backtrack catastrophically: a
    /// quantified group that itself contains a quantifier (`(a+)+`), or more than
    /// `maximumUnboundedQuantifiers` unbounded quantifiers (`.*.*.*.*.*X`).
    static func patternRegex(_ key: String, in path: String, field: String) throws -> NSRegularExpression {
        func refuse(_ why: String) -> FormatError { FormatError(path, "\(field) key \"\(key.prefix(80))\": \(why)") }
        var groups: [Bool] = [], unbounded = 0   // per open group: whether it holds a quantifier
        var lastClosedHeldQuantifier = false, inClass = false, escaped = false
        for c in key {
            defer { if c != ")" { lastClosedHeldQuantifier = false } }
            if escaped { escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if inClass { if c == "]" { inClass = false }; continue }
            switch c {
            case "[": inClass = true
            case "(": groups.append(false)
            case ")": lastClosedHeldQuantifier = groups.popLast() ?? false
                      if let outer = groups.indices.last, lastClosedHeldQuantifier { groups[outer] = true }
            case "*", "+", "?", "{":
                if lastClosedHeldQuantifier, c != "?" { throw refuse("a repeated group that contains a repetition can take exponential time") }
                if c != "?" { unbounded += 1 }
                if let open = groups.indices.last { groups[open] = true }
            default: break
            }
        }
        guard unbounded <= maximumUnboundedQuantifiers else {
            throw refuse("more than \(maximumUnboundedQuantifiers) repetitions (*, +, {…}) can take exponential time")
        }
        do { return try NSRegularExpression(pattern: "^(.*\\.)?(\(key))$") } catch {
            throw refuse("not a valid regular expression")
        }
    }
}

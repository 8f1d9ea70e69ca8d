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
    /// repeated group that holds a repetition or an alternation (`(a+)+`, `(.|.)*`), or more than
    /// `maximumUnboundedQuantifiers` unbounded repetitions (`.*.*.*.*.*X`).
    static func patternRegex(_ key: String, in path: String, field: String) throws -> NSRegularExpression {
        func refuse(_ why: String) -> FormatError { FormatError(path, "\(field) key \"\(key.prefix(80))\": \(why)") }
        // Per open group: whether it holds a repetition or an alternation (either makes repeating
        // the group ambiguous, hence exponential on a failing match).
        var groups: [Bool] = [], unbounded = 0
        var lastClosedWasAmbiguous = false, inClass = false, escaped = false, previous: Character = " "
        for c in key {
            defer { previous = c }
            let closedJustBefore = lastClosedWasAmbiguous
            lastClosedWasAmbiguous = false
            if escaped { escaped = false; continue }
            if c == "\\" { escaped = true; continue }
            if inClass { if c == "]" { inClass = false }; continue }
            switch c {
            case "[": inClass = true
            case "(": groups.append(false)
            case ")":
                let ambiguous = groups.popLast() ?? false
                lastClosedWasAmbiguous = ambiguous
                if ambiguous, let outer = groups.indices.last { groups[outer] = true }
            case "|":
                if let open = groups.indices.last { groups[open] = true }
            case "?" where previous == "(":
                continue   // (?: (?= …: a group's kind, not a repetition
            case "*", "+", "?", "{":
                if closedJustBefore, c != "?" { throw refuse("a repeated group that holds a repetition or an alternation can take exponential time") }
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

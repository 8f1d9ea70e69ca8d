import Foundation

/// The top-level object of a JSON file (config.json, tokenizer.json, …), or an error naming the
/// file and what was wrong.
public func readJSONObject(_ path: String) throws -> [String: Any] {
    let data: Data
    try requireRegularFile(path)
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw FormatError(path, "cannot read: \(error.localizedDescription)")
    }
    let parsed: Any
    do {
        parsed = try JSONSerialization.jsonObject(with: data)
    } catch {
        throw FormatError(path, "not valid JSON")
    }
    guard let object = parsed as? [String: Any] else { throw FormatError(path, "expected a JSON object at the top level") }
    return object
}

/// A JSON file decoded as `type`, or an error naming the file: it "cannot be read", or it "is not
/// `what`" followed by the decoder's account of the key and value it stopped at.
public func decodeJSONFile<T: Decodable>(_ type: T.Type, _ path: String, as what: String) throws -> T {
    try requireRegularFile(path)
    guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(path, "cannot be read") }
    do { return try JSONDecoder().decode(type, from: data) } catch { throw FormatError(path, "is not \(what): \(error)") }
}

/// Names and checks of JSON values from JSONSerialization, for error messages that say what was
/// found.
/// The lines of a JSONL file that hold something (blank lines are skipped), with their locations
/// `path:line` for error messages.
public func readJSONLines(_ path: String) throws -> [(location: String, line: Data)] {
    try requireRegularFile(path)
    guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(path, "cannot be read") }
    let blank: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\r"), UInt8(ascii: "\t")]
    return data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated().compactMap { index, line in
        line.allSatisfy(blank.contains) ? nil : ("\(path):\(index + 1)", Data(line))
    }
}

public enum JSONKind {
    public static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    /// A JSON integer ≥ 0 (not a boolean, not a fraction, not out of Int's range).
    public static func nonNegativeInt(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, !isBool(n), let i = value as? Int, i >= 0 else { return nil }
        return i
    }

    public static func describe(_ value: Any?) -> String {
        switch value {
        case nil: "missing"
        case is NSNull: "null"
        case is String: "a string (\(render(value)))"
        case let n as NSNumber: isBool(n) ? "a boolean (\(n.boolValue))" : "a number (\(n))"
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        default: "\(type(of: value!))"
        }
    }

    /// A short rendering of a value for messages.
    public static func render(_ value: Any?) -> String {
        switch value {
        case nil: return "missing"
        case is NSNull: return "null"
        case let s as String: return s.count > 40 ? "\"\(s.prefix(37))…\"" : "\"\(s)\""
        case let n as NSNumber: return isBool(n) ? "\(n.boolValue)" : "\(n)"
        case let a as [Any]: return a.count > 8 ? "[\(a.count) values]" : "[" + a.map { render($0) }.joined(separator: ", ") + "]"
        case let o as [String: Any]:
            return "{" + o.keys.sorted().prefix(8).map { "\($0): \(render(o[$0]))" }.joined(separator: ", ") + (o.count > 8 ? ", …}" : "}")
        default: return "\(value!)"
        }
    }
}

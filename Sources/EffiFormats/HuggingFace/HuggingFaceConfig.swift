import Foundation

/// A Hugging Face `config.json`, parsed, with typed accessors whose errors name the file, the key,
/// and what was found instead. A key whose value is JSON null counts as absent.
public struct HuggingFaceConfig: @unchecked Sendable {
    /// The path of config.json.
    public let path: String
    /// The whole parsed object, for keys without an accessor.
    public let json: [String: Any]

    public init(path: String) throws {
        self.init(path: path, json: try readJSONObject(path))
    }

    public init(path: String, json: [String: Any]) {
        self.path = path
        self.json = json
    }

    /// Whether `key` is present with a value other than null.
    public func contains(_ key: String) -> Bool {
        guard let v = json[key] else { return false }
        return !(v is NSNull)
    }

    private func value(_ key: String) -> Any? { contains(key) ? json[key] : nil }

    private func missing(_ key: String) -> FormatError { FormatError(path, "key \"\(key)\" is missing") }

    private func wrongType(_ key: String, _ expected: String) -> FormatError {
        FormatError(path, "key \"\(key)\" is \(JSONKind.describe(json[key])), expected \(expected)")
    }

    public func int(_ key: String) throws -> Int {
        guard let v = value(key) else { throw missing(key) }
        guard let n = v as? NSNumber, !JSONKind.isBool(n), let i = v as? Int else { throw wrongType(key, "an integer") }
        return i
    }

    public func int(_ key: String, default fallback: Int) throws -> Int {
        contains(key) ? try int(key) : fallback
    }

    public func double(_ key: String) throws -> Double {
        guard let v = value(key) else { throw missing(key) }
        guard let n = v as? NSNumber, !JSONKind.isBool(n) else { throw wrongType(key, "a number") }
        return n.doubleValue
    }

    public func double(_ key: String, default fallback: Double) throws -> Double {
        contains(key) ? try double(key) : fallback
    }

    public func bool(_ key: String) throws -> Bool {
        guard let v = value(key) else { throw missing(key) }
        guard let n = v as? NSNumber, JSONKind.isBool(n) else { throw wrongType(key, "true or false") }
        return n.boolValue
    }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        contains(key) ? try bool(key) : fallback
    }

    public func string(_ key: String) throws -> String {
        guard let v = value(key) else { throw missing(key) }
        guard let s = v as? String else { throw wrongType(key, "a string") }
        return s
    }

    public func strings(_ key: String) throws -> [String] {
        guard let v = value(key) else { throw missing(key) }
        guard let a = v as? [Any], let strings = a as? [String], strings.count == a.count else {
            throw wrongType(key, "an array of strings")
        }
        return strings
    }
}

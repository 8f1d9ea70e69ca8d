import Foundation
import Yams

/// Values a YAML file may hold once its aliases are followed: far above any real config file, far
/// below what a "billion laughs" file of nested aliases expands to.
public let maximumYAMLValues = 100_000

/// A YAML file's top-level mapping (config files), or an error naming the file and line.
public func readYAMLMapping(_ path: String) throws -> [String: Any] {
    try requireRegularFile(path)
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw FormatError(path, "cannot be read as UTF-8 text") }
    return try parseYAMLMapping(text, path: path)
}

/// YAML text as a mapping of keys to values: strings, Bool, Int, Double, NSNull, lists and
/// mappings of them; merge keys (`<<: *defaults`) add what a mapping does not set. Duplicate keys
/// are an error (YAML forbids them; Yams would keep the last), so are keys that are not plain
/// names, and text whose aliases expand past `maximumYAMLValues`.
/// Values are built here from the composed nodes rather than by Yams' constructor, which traps on
/// some inputs (a list as a key, an overflowing base-60 integer).
public func parseYAMLMapping(_ text: String, path: String) throws -> [String: Any] {
    let node: Node?
    do { node = try Yams.compose(yaml: text) } catch { throw FormatError(path, "not valid YAML: \(error)") }
    // Aliases share their anchor's node, so the composed tree is small; building values with a
    // budget finds an expansion before it is made.
    var budget = maximumYAMLValues
    func line(_ node: Node) -> String { "\(path):\(node.mark.map { "\($0.line)" } ?? "?")" }
    func value(_ node: Node, at key: String) throws -> Any {
        budget -= 1
        guard budget >= 0 else { throw FormatError(path, "more than \(maximumYAMLValues) values once its aliases are expanded") }
        switch node {
        case .mapping(let mapping):
            var result: [String: Any] = [:], merged: [String: Any] = [:]
            for (k, v) in mapping {
                // Keys are plain values (Yams traps on a sequence or mapping as a key).
                guard case .scalar(let scalar) = k else {
                    throw FormatError(line(k), "a key in \(key.isEmpty ? "the top level" : key) is not a plain name")
                }
                // A merge key (<<: *defaults, or a list of them) adds the mappings' entries the
                // mapping does not set itself.
                if scalar.string == "<<" {
                    let sources = try value(v, at: key)
                    guard let maps = (sources as? [String: Any]).map({ [$0] }) ?? (sources as? [Any])?.compactMap({ $0 as? [String: Any] }),
                          maps.count == ((sources as? [Any])?.count ?? 1) else {
                        throw FormatError(line(k), "<< in \(key.isEmpty ? "the top level" : key) should name a mapping or a list of mappings")
                    }
                    for map in maps.reversed() { merged.merge(map) { $1 } }
                    continue
                }
                let name = scalar.string
                guard result[name] == nil else { throw FormatError(line(k), "key \(key.isEmpty ? "" : key + ".")\(name.prefix(80)) appears twice") }
                result[name] = try value(v, at: key.isEmpty ? name : key + "." + name)
            }
            return result.merging(merged) { own, _ in own }
        case .sequence(let sequence):
            return try sequence.map { try value($0, at: key) }
        case .scalar(let scalar):
            return try plainValue(scalar.string, tag: node.tag.description, at: line(node))
        }
    }
    guard let node, let mapping = try value(node, at: "") as? [String: Any] else {
        throw FormatError(path, "expected a mapping of option names to values")
    }
    return mapping
}

/// A scalar as the YAML core schema resolves it: null, true/false, a decimal, hexadecimal or octal
/// integer that fits an Int, a float (with .inf and .nan), else the text.
/// `tag`: the node's resolved tag (a plain scalar's own is left implicit until the node resolves it).
private func plainValue(_ text: String, tag: String, at location: String) throws -> Any {
    switch tag {
    case Tag.Name.null.rawValue: return NSNull()
    // YAML 1.2's booleans only: yes/no/on/off stay text (`activation_cache: off` is the word off).
    case Tag.Name.bool.rawValue:
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: return text
        }
    case Tag.Name.int.rawValue:
        let digits = text.replacingOccurrences(of: "_", with: "")
        let negative = digits.hasPrefix("-"), unsigned = digits.hasPrefix("-") || digits.hasPrefix("+") ? String(digits.dropFirst()) : digits
        let parsed: Int? = unsigned.hasPrefix("0x") ? Int(unsigned.dropFirst(2), radix: 16)
            : unsigned.hasPrefix("0o") ? Int(unsigned.dropFirst(2), radix: 8) : Int(unsigned, radix: 10)
        guard let magnitude = parsed else { throw FormatError(location, "\(text.prefix(40)) is not an integer that fits in 64 bits") }
        return negative ? -magnitude : magnitude
    case Tag.Name.float.rawValue:
        switch text.lowercased() {
        case ".inf", "+.inf": return Double.infinity
        case "-.inf": return -Double.infinity
        case ".nan": return Double.nan
        default:
            guard let d = Double(text.replacingOccurrences(of: "_", with: "")) else { throw FormatError(location, "\(text.prefix(40)) is not a number") }
            return d
        }
    default: return text
    }
}

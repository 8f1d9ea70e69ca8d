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

/// YAML text as a mapping. Duplicate keys are an error (YAML forbids them; Yams would keep the
/// last), and so is text whose aliases expand past `maximumYAMLValues`.
public func parseYAMLMapping(_ text: String, path: String) throws -> [String: Any] {
    let node: Node?
    do { node = try Yams.compose(yaml: text) } catch { throw FormatError(path, "not valid YAML: \(error)") }
    // Aliases share their anchor's node, so the composed tree is small; walking it with a budget
    // finds an expansion before anything is built from it.
    var budget = maximumYAMLValues
    func check(_ node: Node, at key: String) throws {
        budget -= 1
        guard budget >= 0 else { throw FormatError(path, "more than \(maximumYAMLValues) values once its aliases are expanded") }
        switch node {
        case .mapping(let mapping):
            var seen: Set<String> = []
            for (k, v) in mapping {
                // Keys are plain values (Yams traps on a sequence or mapping as a key); merge keys are refused.
                guard case .scalar = k, k.string != "<<" else {
                    throw FormatError("\(path):\(k.mark.map { "\($0.line)" } ?? "?")", "a key in \(key.isEmpty ? "the top level" : key) is not a plain name")
                }
                let name = k.string ?? "\(k)"
                guard seen.insert(name).inserted else {
                    throw FormatError("\(path):\(k.mark.map { "\($0.line)" } ?? "?")", "key \(key.isEmpty ? "" : key + ".")\(name.prefix(80)) appears twice")
                }
                try check(v, at: key.isEmpty ? name : key + "." + name)
            }
        case .sequence(let sequence): for v in sequence { try check(v, at: key) }
        default: break
        }
    }
    if let node { try check(node, at: "") }
    guard let node, let mapping = Constructor.default.any(from: node) as? [String: Any] else {
        throw FormatError(path, "expected a mapping of option names to values")
    }
    return mapping
}

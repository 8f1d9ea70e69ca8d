import ArgumentParser
import EffiFormats
import Foundation

/// `-c config.yaml` for `train`: the file's keys are the long option names with dashes as
/// underscores (`learning_rate: 1e-4`, `grad_checkpoint: true` / `false` for `--no-…`,
/// `targets: [q, v]`), as mlx-lm's
/// config files. They become arguments placed before the command line's, and an option given on
/// the command line replaces the file's.
enum ConfigFile {
    /// `arguments` (after the subcommand name) with `-c FILE`, `--config FILE` or `--config=FILE`
    /// replaced by the file's options.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let flag = arguments.firstIndex(where: { $0 == "-c" || $0 == "--config" || $0.hasPrefix("--config=") }) else { return arguments }
        var rest = arguments
        let path: String
        if arguments[flag].hasPrefix("--config=") {
            path = String(arguments[flag].dropFirst("--config=".count))
            rest.remove(at: flag)
        } else {
            guard flag + 1 < arguments.count else { throw ValidationError("\(arguments[flag]) needs a file") }
            path = arguments[flag + 1]
            rest.removeSubrange(flag...flag + 1)
        }
        guard !rest.contains(where: { $0 == "-c" || $0 == "--config" || $0.hasPrefix("--config=") }) else {
            throw ValidationError("give one config file (-c FILE)")
        }
        return try Self.arguments(from: try mapping(path), except: rest, file: path) + rest
    }

    /// A YAML file's top-level mapping (see `readYAMLMapping`).
    static func mapping(_ path: String) throws -> [String: Any] { try readYAMLMapping(path) }

    /// A mapping of option names (underscores for dashes) to values as command-line arguments,
    /// leaving out the options that `given` (a command line) already sets. A value is only ever a
    /// value: one that starts with "-" is passed as `--option=value`, and a list element that looks
    /// like an option, or a nested mapping, is an error naming `file` and the key.
    static func arguments(from mapping: [String: Any], except given: [String] = [], file: String = "config") throws -> [String] {
        let given = Set(given.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).prefix { $0 != "=" }) })
        var expanded: [String] = []
        for key in mapping.keys.sorted() {
            let option = key.replacingOccurrences(of: "_", with: "-")
            if given.contains(option) || given.contains("no-" + option) { continue }
            switch mapping[key] {
            case let flag as Bool: expanded.append(flag ? "--" + option : "--no-" + option)
            case let list as [Any]:
                let values = try list.map { element -> String in
                    guard !(element is [Any] || element is [String: Any]) else { throw ValidationError("\(file): \(key): a list of plain values expected") }
                    let value = "\(element)"
                    guard !value.hasPrefix("-") else { throw ValidationError("\(file): \(key): list value \(value) starts with \"-\"; list values are plain values, not options") }
                    return value
                }
                expanded.append("--" + option); expanded += values
            case is NSNull: continue   // `key:` with no value leaves the option at its default
            case is [String: Any]: throw ValidationError("\(file): \(key) is a mapping; expected a value or a list")
            case let value?:
                let text = "\(value)"
                expanded += text.hasPrefix("-") ? ["--\(option)=\(text)"] : ["--" + option, text]
            case nil: continue
            }
        }
        return expanded
    }
}

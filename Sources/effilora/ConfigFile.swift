import ArgumentParser
import Foundation
import Yams

/// `-c config.yaml` for `train`: the file's keys are the long option names with dashes as
/// underscores (`learning_rate: 1e-4`, `grad_checkpoint: true` / `false` for `--no-…`,
/// `targets: [q, v]`), as mlx-lm's
/// config files. They become arguments placed before the command line's, and an option given on
/// the command line replaces the file's.
enum ConfigFile {
    /// `arguments` (after the subcommand name) with `-c/--config FILE` replaced by the file's options.
    static func expand(_ arguments: [String]) throws -> [String] {
        guard let flag = arguments.firstIndex(where: { $0 == "-c" || $0 == "--config" }) else { return arguments }
        guard flag + 1 < arguments.count else { throw ValidationError("\(arguments[flag]) needs a file") }
        let path = arguments[flag + 1]
        var rest = arguments
        rest.removeSubrange(flag...flag + 1)
        return Self.arguments(from: try mapping(path), except: rest) + rest
    }

    /// A YAML file's top-level mapping.
    static func mapping(_ path: String) throws -> [String: Any] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("\(path): cannot be read") }
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch { throw ValidationError("\(path): not valid YAML: \(error)") }
        guard let mapping = loaded as? [String: Any] else { throw ValidationError("\(path): expected a mapping of option names to values") }
        return mapping
    }

    /// A mapping of option names (underscores for dashes) to values as command-line arguments,
    /// leaving out the options that `given` (a command line) already sets.
    static func arguments(from mapping: [String: Any], except given: [String] = []) -> [String] {
        let given = Set(given.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).split(separator: "=")[0]) })
        var expanded: [String] = []
        for key in mapping.keys.sorted() {
            let option = key.replacingOccurrences(of: "_", with: "-")
            if given.contains(option) || given.contains("no-" + option) { continue }
            switch mapping[key] {
            case let flag as Bool: expanded.append(flag ? "--" + option : "--no-" + option)
            case let list as [Any]: expanded.append("--" + option); expanded += list.map { "\($0)" }
            case let value?: expanded += ["--" + option, "\(value)"]
            case nil: continue
            }
        }
        return expanded
    }
}

import Foundation

/// A Hugging Face model folder: `config.json` and the weights, either one `model.safetensors` or
/// the shards named by `model.safetensors.index.json` (its "weight_map": tensor name → shard
/// file). As in transformers, a single `model.safetensors` is preferred when both are present.
/// Every shard is opened (memory-mapped) once; tensors are read from the mappings in place.
public final class HuggingFaceFolder: @unchecked Sendable {
    public let path: String
    public let config: HuggingFaceConfig
    /// The opened safetensors files, in shard-name order.
    public let files: [SafetensorsFile]
    /// Tensor names, sorted.
    public let names: [String]
    private let location: [String: Int]  // tensor name → index into files

    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public init(path: String) throws {
        self.path = path
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FormatError(path, "not a folder (expected a Hugging Face model folder with config.json and model.safetensors)")
        }
        func inside(_ name: String) -> String { path.hasSuffix("/") ? path + name : path + "/" + name }
        let configPath = inside("config.json")
        guard manager.fileExists(atPath: configPath) else { throw FormatError(path, "config.json is missing") }
        config = try HuggingFaceConfig(path: configPath)

        let single = inside(Self.singleFileName), index = inside(Self.indexFileName)
        if manager.fileExists(atPath: single) {
            let file = try SafetensorsFile(path: single)
            files = [file]
            names = file.names
            location = Dictionary(uniqueKeysWithValues: names.map { ($0, 0) })
            return
        }
        guard manager.fileExists(atPath: index) else {
            throw FormatError(path, "no weights: expected \(Self.singleFileName) or \(Self.indexFileName)")
        }
        let weightMap = try Self.readWeightMap(index)
        let shardNames = Set(weightMap.values).sorted()
        var shardIndex: [String: Int] = [:]
        var files: [SafetensorsFile] = []
        for shard in shardNames {
            let holder = weightMap.first { $0.value == shard }!.key
            guard !shard.isEmpty, !shard.hasPrefix("/"), !shard.split(separator: "/").contains("..") else {
                throw FormatError(index, "shard name \"\(shard)\" (for tensor \(holder)) must be a file inside the folder")
            }
            let shardPath = inside(shard)
            guard manager.fileExists(atPath: shardPath) else {
                throw FormatError(index, "shard \(shard), which holds tensor \(holder), is missing from the folder")
            }
            shardIndex[shard] = files.count
            files.append(try SafetensorsFile(path: shardPath))
        }
        var location: [String: Int] = [:]
        for (name, shard) in weightMap {
            let i = shardIndex[shard]!
            guard files[i].info(name) != nil else {
                throw FormatError(index, "tensor \(name) is mapped to shard \(shard), which does not contain it")
            }
            location[name] = i
        }
        self.files = files
        self.names = weightMap.keys.sorted()
        self.location = location
    }

    /// The "weight_map" object of an index file.
    private static func readWeightMap(_ index: String) throws -> [String: String] {
        guard let raw = try readJSONObject(index)["weight_map"] else { throw FormatError(index, "key \"weight_map\" is missing") }
        guard let map = raw as? [String: Any] else {
            throw FormatError(index, "key \"weight_map\" is \(JSONKind.describe(raw)), expected an object of tensor name → shard file")
        }
        var out: [String: String] = [:]
        for (name, value) in map {
            guard let shard = value as? String else {
                throw FormatError(index, "weight_map entry for tensor \(name) is \(JSONKind.describe(value)), expected a shard file name")
            }
            out[name] = shard
        }
        return out
    }

    /// The safetensors file that holds `name`, and its entry there.
    public func tensor(_ name: String) -> (file: SafetensorsFile, info: SafetensorsTensorInfo)? {
        guard let i = location[name], let info = files[i].info(name) else { return nil }
        return (files[i], info)
    }

    /// Row-major shape of tensor `name`, or nil when the folder has no such tensor.
    public func tensorShape(_ name: String) -> [Int]? { tensor(name)?.info.shape }

    /// Converts tensor `name` to Float32 into `out` (`count` values, its element count).
    public func readFloats(_ name: String, into out: UnsafeMutablePointer<Float>, count: Int) throws {
        guard let (file, _) = tensor(name) else { throw FormatError(path, "tensor \(name) is not in the folder") }
        try file.readFloats(name, into: out, count: count)
    }
}

import EffiAdapters
import EffiFormats
import EffiModel
import EffiTestSupport
import EffiTokenizer
import EffiTrain
import Foundation

/// The parsers of untrusted input, each as a function of raw bytes that must return (its errors
/// are thrown and dropped) — never trap, hang or allocate without bound. File-based readers get
/// the bytes through one scratch file, rewritten for every input.
struct FuzzTargets {
    let scratch: String
    let tinyModel: String
    let tokenizer: Tokenizer
    let template: ChatTemplate
    let config: ModelConfig

    init() throws {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        scratch = (base as NSString).appendingPathComponent("effilora-fuzz-\(getpid())")
        try FileManager.default.createDirectory(atPath: scratch + "/adapter", withIntermediateDirectories: true)
        tinyModel = try TinyGGUFModel().write(seed: 1)
        let gguf = try GGUFFile(path: tinyModel)
        tokenizer = try Tokenizer(gguf: gguf)
        template = try ChatTemplate(source: TinyGGUFModel.chatTemplate + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
                                    origin: "the tiny model's template")
        config = try ModelConfig(gguf: gguf)
    }

    func removeScratch() {
        try? FileManager.default.removeItem(atPath: scratch)
        try? FileManager.default.removeItem(atPath: tinyModel)
    }

    static let names = ["gguf", "safetensors", "tokenizer-json", "jsonl", "yaml", "adapter-config"]

    func run(_ target: String, _ data: Data) {
        switch target {
        case "gguf":
            let path = write(data, "model.gguf")
            guard let file = try? GGUFFile(path: path) else { return }
            _ = try? ModelConfig(gguf: file)
            _ = try? Tokenizer(gguf: file)
        case "safetensors":
            let path = write(data, "weights.safetensors")
            guard let file = try? SafetensorsFile(path: path) else { return }
            for name in file.names.prefix(4) {
                guard let info = file.info(name), info.shape.reduce(1, *) <= 1 << 16 else { continue }
                var values = [Float](repeating: 0, count: info.shape.reduce(1, *))
                _ = try? file.readFloats(name, into: &values, count: values.count)
            }
        case "tokenizer-json":
            let path = write(data, "tokenizer.json")
            guard let t = try? Tokenizer(tokenizerJSON: path) else { return }
            _ = t.decode(t.encode("Hello, world! <|im_start|>user\n12345 héllo"))
        case "jsonl":
            var options = Dataset.Options()
            options.skipBadLines = true
            _ = try? Dataset(path: write(data, "train.jsonl"), tokenizer: tokenizer, chatTemplate: template, options: options)
        case "yaml":
            _ = try? parseYAMLMapping(String(decoding: data, as: UTF8.self), path: "fuzz.yaml")
        case "adapter-config":
            _ = write(data, "adapter/adapter_config.json")
            _ = try? AdapterFile.load(from: scratch + "/adapter", model: config)
            _ = try? Adapters.importPEFT(folder: scratch + "/adapter", model: config)
        default:
            preconditionFailure("unknown target \(target)")
        }
    }

    private func write(_ data: Data, _ name: String) -> String {
        let path = (scratch as NSString).appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    /// Valid inputs for each target, written under `folder/TARGET/` (the fuzzers' seed corpus).
    func writeSeeds(to folder: String) throws {
        func seed(_ target: String, _ name: String, _ data: Data) throws {
            try FileManager.default.createDirectory(atPath: folder + "/" + target, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: "\(folder)/\(target)/\(name)"))
        }
        try seed("gguf", "tiny.gguf", Data(contentsOf: URL(fileURLWithPath: tinyModel)))
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        w.add("a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        w.add("b", shape: [4], values: [0.5, -1, 2, 8], as: .bf16)
        try w.write(to: scratch + "/seed.safetensors")
        try seed("safetensors", "two.safetensors", Data(contentsOf: URL(fileURLWithPath: scratch + "/seed.safetensors")))
        try seed("tokenizer-json", "tiny.json", JSONSerialization.data(withJSONObject: try tokenizer.huggingFaceJSON(source: tinyModel)))
        try seed("jsonl", "formats.jsonl", Data("""
            {"text": "the cat sat"}
            {"prompt": "Question: the?\\nAnswer:", "completion": " the"}
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "the"}, {"role": "assistant", "content": "the the"}]}

            """.utf8))
        try seed("yaml", "train.yaml", Data("method: effilora\nrank: 8\ntargets: [q, v]\nlearning_rate: 1.0e-3\nmask_prompt: true\n".utf8))
        try seed("yaml", "compare.yaml", Data("methods: [base, lora, wide]\ntrain:\n  iters: 10\nvariants:\n  wide: {method: lora, rank: 16}\n".utf8))
        var c = AdapterConfig()
        c.method = .lora; c.rank = 2; c.targets = [.q, .v]
        let adapters = try Adapters(config: c, model: config)
        try AdapterFile.save(adapters, to: scratch + "/native")
        try seed("adapter-config", "native.json", Data(contentsOf: URL(fileURLWithPath: scratch + "/native/adapter_config.json")))
        try adapters.exportPEFT(to: scratch + "/peft", baseModel: "tiny")
        try seed("adapter-config", "peft.json", Data(contentsOf: URL(fileURLWithPath: scratch + "/peft/adapter_config.json")))
    }
}

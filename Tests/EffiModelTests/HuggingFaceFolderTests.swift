import XCTest
import Foundation
import EffiCore
import EffiFormats
import EffiTestSupport
@testable import EffiModel

/// A small random LLaMA (or Qwen2) written as Hugging Face folders — one F32 file, or two BF16
/// shards with an index — and as a GGUF the way llama.cpp's convert_hf_to_gguf.py writes it
/// (Q/K rows permuted for the adjacent-pair RoPE). The decoders built from them must agree.
final class HuggingFaceFolderTests: XCTestCase {
    /// The model's shape and its tensors under Hugging Face names, row-major.
    struct RandomModel {
        var architecture = "llama"
        var layers = 2, width = 64, heads = 4, kvHeads = 2, ffn = 96, vocabulary = 101, context = 32
        var ropeTheta: Float = 10_000, epsilon: Float = 1e-5
        var tied = false
        var tensors: [(name: String, shape: [Int], values: [Float])] = []

        init(seed: UInt64, architecture: String = "llama", tied: Bool = false) {
            self.architecture = architecture
            self.tied = tied
            var rng = SplitMix64(seed: seed)
            func add(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) {
                let n = shape.reduce(1, *)
                tensors.append((name, shape, (0..<n).map { _ in offset + scale * rng.nextGaussian() }))
            }
            let d = width, kv = kvHeads * (width / heads)
            add("model.embed_tokens.weight", [vocabulary, d], scale: 1)
            for i in 0..<layers {
                let p = "model.layers.\(i)."
                add(p + "input_layernorm.weight", [d], scale: 0.1, offset: 1)
                add(p + "self_attn.q_proj.weight", [d, d], scale: 0.15)
                add(p + "self_attn.k_proj.weight", [kv, d], scale: 0.15)
                add(p + "self_attn.v_proj.weight", [kv, d], scale: 0.15)
                if architecture == "qwen2" {
                    add(p + "self_attn.q_proj.bias", [d], scale: 0.1)
                    add(p + "self_attn.k_proj.bias", [kv], scale: 0.1)
                    add(p + "self_attn.v_proj.bias", [kv], scale: 0.1)
                }
                add(p + "self_attn.o_proj.weight", [d, d], scale: 0.1)
                add(p + "post_attention_layernorm.weight", [d], scale: 0.1, offset: 1)
                add(p + "mlp.gate_proj.weight", [ffn, d], scale: 0.12)
                add(p + "mlp.up_proj.weight", [ffn, d], scale: 0.12)
                add(p + "mlp.down_proj.weight", [d, ffn], scale: 0.1)
            }
            add("model.norm.weight", [d], scale: 0.1, offset: 1)
            if !tied { add("lm_head.weight", [vocabulary, d], scale: 0.2) }
        }

        var config: [String: Any] {
            let classes = ["llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"]
            return [
                "architectures": [classes[architecture]!], "model_type": architecture,
                "num_hidden_layers": layers, "hidden_size": width, "intermediate_size": ffn,
                "num_attention_heads": heads, "num_key_value_heads": kvHeads, "vocab_size": vocabulary,
                "rope_theta": Double(ropeTheta), "rms_norm_eps": Double(epsilon), "max_position_embeddings": context,
                "tie_word_embeddings": tied, "hidden_act": "silu", "rope_scaling": NSNull(), "torch_dtype": "float32",
            ]
        }

        /// The same model with every value rounded to BF16.
        func roundedToBFloat16() -> RandomModel {
            var m = self
            m.tensors = tensors.map { t in
                (t.name, t.shape, t.values.map { Float(bitPattern: UInt32(SafetensorsDType.bfloat16Bits($0)) << 16) })
            }
            return m
        }

        /// Rows of an [heads · headDim, in] weight in the order convert_hf_to_gguf.py writes
        /// (the library's one permutation; the logits comparisons below check it).
        static func permute(_ w: [Float], rows: Int, columns: Int, heads: Int) -> [Float] {
            QKRowOrder.reorder(Tensor(shape: [rows, columns], values: w), heads: heads, from: .rotateHalf, to: .adjacentPairs).array
        }

        /// As a GGUF: `{arch}.*` metadata and blk.{i}.* tensors with ggml dimensions (fastest first).
        func gguf() throws -> String {
            var b = GGUFBuilder()
            let a = architecture
            b.add("general.architecture", string: a)
            b.add("\(a).block_count", uint32: UInt32(layers))
            b.add("\(a).embedding_length", uint32: UInt32(width))
            b.add("\(a).feed_forward_length", uint32: UInt32(ffn))
            b.add("\(a).attention.head_count", uint32: UInt32(heads))
            b.add("\(a).attention.head_count_kv", uint32: UInt32(kvHeads))
            b.add("\(a).context_length", uint32: UInt32(context))
            b.add("\(a).rope.freq_base", float: ropeTheta)
            b.add("\(a).attention.layer_norm_rms_epsilon", float: epsilon)
            let names: [(String, String)] = [
                ("input_layernorm.weight", "attn_norm.weight"), ("self_attn.q_proj.weight", "attn_q.weight"),
                ("self_attn.k_proj.weight", "attn_k.weight"), ("self_attn.v_proj.weight", "attn_v.weight"),
                ("self_attn.q_proj.bias", "attn_q.bias"), ("self_attn.k_proj.bias", "attn_k.bias"),
                ("self_attn.v_proj.bias", "attn_v.bias"), ("self_attn.o_proj.weight", "attn_output.weight"),
                ("post_attention_layernorm.weight", "ffn_norm.weight"), ("mlp.gate_proj.weight", "ffn_gate.weight"),
                ("mlp.up_proj.weight", "ffn_up.weight"), ("mlp.down_proj.weight", "ffn_down.weight"),
            ]
            for t in tensors {
                var name: String
                switch t.name {
                case "model.embed_tokens.weight": name = "token_embd.weight"
                case "model.norm.weight": name = "output_norm.weight"
                case "lm_head.weight": name = "output.weight"
                default:
                    let parts = t.name.split(separator: ".", maxSplits: 3).map(String.init)  // model, layers, i, rest
                    name = "blk.\(parts[2])." + names.first { $0.0 == parts[3] }!.1
                }
                var values = t.values
                // llama files permute Q and K (the weights only here: these models have no Q/K bias);
                // qwen2 files keep Hugging Face's order.
                if architecture == "llama" && name.hasSuffix("attn_q.weight") {
                    values = Self.permute(values, rows: t.shape[0], columns: t.shape[1], heads: heads)
                }
                if architecture == "llama" && name.hasSuffix("attn_k.weight") {
                    values = Self.permute(values, rows: t.shape[0], columns: t.shape[1], heads: kvHeads)
                }
                b.addF32(name, dims: t.shape.reversed().map(UInt64.init), values: values)
            }
            return try b.write()
        }
    }

    var cleanup: [String] = []

    override func tearDown() {
        for path in cleanup { try? FileManager.default.removeItem(atPath: path) }
        cleanup = []
    }

    func newFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-hf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        cleanup.append(path)
        return path
    }

    func writeConfig(_ config: [String: Any], to folder: String) throws {
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: folder + "/config.json"))
    }

    /// config.json and one model.safetensors.
    func writeSingle(_ m: RandomModel, dtype: SafetensorsDType = .f32, config: [String: Any]? = nil) throws -> String {
        let folder = try newFolder()
        try writeConfig(config ?? m.config, to: folder)
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        for t in m.tensors { w.add(t.name, shape: t.shape, values: t.values, as: dtype) }
        try w.write(to: folder + "/model.safetensors")
        return folder
    }

    /// config.json, two shards (the embedding and layer 0; the rest) and the index.
    func writeSharded(_ m: RandomModel, dtype: SafetensorsDType) throws -> String {
        let folder = try newFolder()
        try writeConfig(m.config, to: folder)
        let shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        var shards = [SafetensorsWriter(metadata: ["format": "pt"]), SafetensorsWriter(metadata: ["format": "pt"])]
        var weightMap: [String: String] = [:]
        for t in m.tensors {
            let s = t.name.hasPrefix("model.embed_tokens") || t.name.hasPrefix("model.layers.0.") ? 0 : 1
            shards[s].add(t.name, shape: t.shape, values: t.values, as: dtype)
            weightMap[t.name] = shardNames[s]
        }
        for (w, name) in zip(shards, shardNames) { try w.write(to: folder + "/" + name) }
        let index: [String: Any] = ["metadata": ["total_size": 0], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys])
            .write(to: URL(fileURLWithPath: folder + "/model.safetensors.index.json"))
        return folder
    }

    /// Two sequences of 7 tokens.
    let tokens: [Int32] = [3, 17, 42, 99, 0, 56, 7, 100, 1, 64, 64, 23, 88, 5]

    func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.array, b.array).map { abs($0 - $1) }.max() ?? .infinity
    }

    func logits(_ decoder: Decoder) -> Tensor { decoder.logits(tokens: tokens, batch: 2, seqLen: 7) }

    // MARK: - agreement

    func testSingleFileFolderMatchesTheConvertedGGUF() throws {
        let m = RandomModel(seed: 42)
        let hf = try Decoder(huggingFace: try writeSingle(m))
        let ggufPath = try m.gguf()
        cleanup.append(ggufPath)
        let gguf = try Decoder(gguf: ggufPath)
        XCTAssertEqual(hf.config.ropeLayout, .rotateHalf)
        XCTAssertEqual(gguf.config.ropeLayout, .adjacentPairs)
        var expected = gguf.config
        expected.ropeLayout = .rotateHalf
        XCTAssertEqual(hf.config, expected, "the same config from config.json and from GGUF metadata")
        let a = logits(hf), b = logits(gguf)
        let diff = maxDifference(a, b)
        print("HF folder vs GGUF (permuted Q/K): max |Δlogit| = \(diff), logit range ±\(a.array.map(abs).max()!)")
        XCTAssertLessThanOrEqual(diff, 1e-4)
        XCTAssertGreaterThan(a.array.map(abs).max()!, 0.5, "the logits are not trivially small")

        // Without the permutation the GGUF decoder must disagree: the test can see a layout error.
        let wrong = try unpermutedGGUF(m)
        XCTAssertGreaterThan(maxDifference(a, logits(try Decoder(gguf: wrong))), 1e-2)
    }

    /// The GGUF written without convert_hf_to_gguf's Q/K permutation.
    func unpermutedGGUF(_ m: RandomModel) throws -> String {
        var copy = m
        copy.architecture = "qwen2"  // qwen2 files keep HF order, but read it as llama below
        let qwenPath = try copy.gguf()
        cleanup.append(qwenPath)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: qwenPath))
        // Rename the architecture in place: "qwen2" and "llama" have the same length.
        let from = Data("qwen2".utf8), to = Data("llama".utf8)
        while let r = bytes.range(of: from) { bytes.replaceSubrange(r, with: to) }
        let path = qwenPath + ".llama.gguf"
        try bytes.write(to: URL(fileURLWithPath: path))
        cleanup.append(path)
        return path
    }

    func testTiedEmbeddingMatchesTheGGUF() throws {
        let m = RandomModel(seed: 7, tied: true)
        let folder = try writeSingle(m)
        let hf = try Decoder(huggingFace: folder)
        XCTAssertTrue(hf.config.tiedOutput)
        XCTAssertTrue(hf.weights.output === hf.weights.embedding, "tied: the output is the embedding, not a copy")
        let ggufPath = try m.gguf()
        cleanup.append(ggufPath)
        let gguf = try Decoder(gguf: ggufPath)
        XCTAssertTrue(gguf.config.tiedOutput)
        let diff = maxDifference(logits(hf), logits(gguf))
        print("tied HF folder vs GGUF: max |Δlogit| = \(diff)")
        XCTAssertLessThanOrEqual(diff, 1e-4)

        // tie_word_embeddings true with an lm_head present: the lm_head is ignored.
        var extra = m
        var rng = SplitMix64(seed: 1)
        extra.tensors.append(("lm_head.weight", [m.vocabulary, m.width], (0..<m.vocabulary * m.width).map { _ in rng.nextGaussian() }))
        let withHead = try Decoder(huggingFace: try writeSingle(extra))
        XCTAssertEqual(maxDifference(logits(hf), logits(withHead)), 0)
    }

    func testQwen2FolderWithBiasesMatchesTheGGUF() throws {
        let m = RandomModel(seed: 9, architecture: "qwen2")
        let hf = try Decoder(huggingFace: try writeSingle(m))
        XCTAssertNotNil(hf.weights.layers[1].kBias)
        let ggufPath = try m.gguf()
        cleanup.append(ggufPath)
        let gguf = try Decoder(gguf: ggufPath)
        XCTAssertEqual(hf.config, gguf.config)
        let diff = maxDifference(logits(hf), logits(gguf))
        print("qwen2 HF folder vs GGUF: max |Δlogit| = \(diff)")
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }

    /// Generation's KV-cache path with rotate-half RoPE at position offsets and q/k/v biases:
    /// feeding the first sequence in chunks gives the full forward's logits.
    func testCachedLogitsMatchTheFullForwardWithBiasesAndRotateHalf() throws {
        let m = RandomModel(seed: 5, architecture: "qwen2")
        let decoder = try Decoder(huggingFace: try writeSingle(m))
        let sequence = Array(tokens.prefix(7)), v = decoder.config.vocabulary
        let full = decoder.logits(tokens: sequence, batch: 1, seqLen: 7)
        let cache = KVCache(config: decoder.config, capacity: 7)
        var fed = 0
        for chunk in [3, 1, 2, 1] {
            let logits = decoder.logitsOfNext(tokens: Array(sequence[fed..<fed + chunk]), cache: cache)
            fed += chunk
            let worst = (0..<v).map { abs(logits[$0] - full[(fed - 1) * v + $0]) }.max()!
            XCTAssertLessThan(worst, 1e-5, "after \(fed) tokens")
        }
    }

    func testShardedBFloat16FolderMatchesTheRoundedWeights() throws {
        let m = RandomModel(seed: 11)
        let shardedPath = try writeSharded(m, dtype: .bf16)
        let folder = try HuggingFaceFolder(path: shardedPath)
        XCTAssertEqual(folder.files.count, 2)
        XCTAssertEqual(folder.names.count, m.tensors.count)
        XCTAssertEqual(folder.tensor("model.norm.weight")?.info.dtype, .bf16)
        XCTAssertEqual(folder.tensorShape("model.layers.1.mlp.down_proj.weight"), [m.width, m.ffn])
        XCTAssertNil(folder.tensorShape("model.layers.2.mlp.down_proj.weight"))
        let sharded = try Decoder(huggingFace: shardedPath)
        let rounded = try Decoder(huggingFace: try writeSingle(m.roundedToBFloat16()))
        XCTAssertEqual(maxDifference(logits(sharded), logits(rounded)), 0, accuracy: 1e-5)
        for (a, b) in zip(sharded.weights.layers[0].q.values().array, m.roundedToBFloat16().tensors[2].values) where a != b {
            return XCTFail("BF16 q_proj value \(a) differs from the rounded \(b)")
        }
        // And within BF16's precision of the F32 model.
        let full = try Decoder(huggingFace: try writeSingle(m))
        let diff = maxDifference(logits(sharded), logits(full))
        print("BF16 shards vs F32: max |Δlogit| = \(diff)")
        XCTAssertLessThan(diff, 0.5)
    }

    func testF16FolderLoads() throws {
        let m = RandomModel(seed: 12)
        let f16 = try Decoder(huggingFace: try writeSingle(m, dtype: .f16))
        let full = try Decoder(huggingFace: try writeSingle(m))
        XCTAssertLessThan(maxDifference(logits(f16), logits(full)), 0.05)
    }

    // MARK: - errors

    func assertConfigError(_ change: (inout [String: Any]) -> Void, containing texts: [String],
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let m = RandomModel(seed: 1)
        var config = m.config
        change(&config)
        let folder = try writeSingle(m, config: config)
        XCTAssertThrowsError(try Decoder(huggingFace: folder), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(folder + "/config.json"), "names config.json: \(message)", file: file, line: line)
            for text in texts {
                XCTAssertTrue(message.contains(text), "\"\(message)\" should mention \"\(text)\"", file: file, line: line)
            }
        }
    }

    func testConfigErrors() throws {
        try assertConfigError({ $0["architectures"] = ["GPT2LMHeadModel"] },
                              containing: ["GPT2LMHeadModel", "not supported", "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"])
        try assertConfigError({ $0["num_hidden_layers"] = nil }, containing: ["\"num_hidden_layers\" is missing"])
        try assertConfigError({ $0["hidden_size"] = "64" }, containing: ["\"hidden_size\" is a string", "expected an integer"])
        try assertConfigError({ $0["tie_word_embeddings"] = 1 }, containing: ["tie_word_embeddings", "expected true or false"])
        try assertConfigError({ $0["rope_scaling"] = ["type": "linear", "factor": 2.0] }, containing: ["rope_scaling", "not supported"])
        try assertConfigError({ $0["rope_scaling"] = ["factor": 2.0] }, containing: ["rope_scaling", "not supported"])
        try assertConfigError({ $0["rope_parameters"] = ["rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0] },
                              containing: ["rope_parameters", "not supported"])
        try assertConfigError({ $0["layer_types"] = ["full_attention", "sliding_attention"] }, containing: ["layer_types", "sliding_attention"])
        try assertConfigError({ $0["head_dim"] = 32 }, containing: ["head_dim 32", "not supported"])
        try assertConfigError({ $0["hidden_act"] = "gelu" }, containing: ["hidden_act", "not supported"])
        try assertConfigError({ $0["num_key_value_heads"] = 3 }, containing: ["num_attention_heads 4 is not a multiple of num_key_value_heads 3"])
        // Damaged or absurd values are refused before anything is allocated, naming the key and the range.
        try assertConfigError({ $0["num_hidden_layers"] = 1_000_000_000_000 }, containing: ["num_hidden_layers is 1000000000000, expected 1…1024"])
        try assertConfigError({ $0["max_position_embeddings"] = 1 << 62 }, containing: ["max_position_embeddings is \(1 << 62), expected 1…16777216"])
        try assertConfigError({ $0["num_attention_heads"] = 0 }, containing: ["num_attention_heads is 0, expected 1…1024"])
        try assertConfigError({ $0["num_attention_heads"] = 64 }, containing: ["does not divide into 64 heads of even size"])
        try assertConfigError({ $0["rms_norm_eps"] = -1e-5 }, containing: ["rms_norm_eps is -1e-05, expected a positive number below 1"])
        try assertConfigError({ $0["rope_theta"] = 0 }, containing: ["rope_theta is 0.0, expected a positive finite number"])
        // Fewer (or more) layers than the tensors hold: the model would silently skip (or lack) layers.
        try assertConfigError({ $0["num_hidden_layers"] = 1 }, containing: ["num_hidden_layers is 1, but the tensors hold layers 0…1"])
        try assertConfigError({ $0["eos_token_id"] = 101 }, containing: ["eos_token_id 101 is not a token id below vocab_size 101"])
        try assertConfigError({ $0["bos_token_id"] = [1, -2] }, containing: ["bos_token_id [1, -2] is not a token id below vocab_size 101"])
        try assertConfigError({ $0["model_type"] = "gpt2" }, containing: ["model_type \"gpt2\" does not match architectures [\"LlamaForCausalLM\"] (expected \"llama\")"])
    }

    /// A tensor the decoder has no place for (a feature it lacks) is an error, not dropped.
    func testUnusedTensorsAreRefused() throws {
        var m = RandomModel(seed: 3)
        m.tensors.append(("model.layers.0.self_attn.q_norm.weight", [16], [Float](repeating: 1, count: 16)))
        let folder = try writeSingle(m)
        XCTAssertThrowsError(try Decoder(huggingFace: folder)) { error in
            XCTAssertTrue("\(error)".contains("tensor model.layers.0.self_attn.q_norm.weight is not part of a llama decoder (1 such tensors)"), "\(error)")
        }
    }

    func testDefaultsAndExplicitHeadDim() throws {
        let m = RandomModel(seed: 2)
        var config = m.config
        config["rope_theta"] = nil
        config["tie_word_embeddings"] = nil
        config["head_dim"] = 16
        config["rope_scaling"] = nil
        let folder = try HuggingFaceFolder(path: try writeSingle(m, config: config))
        let c = try ModelConfig(huggingFace: folder)
        XCTAssertEqual(c.ropeBase, 10_000)
        XCTAssertFalse(c.tiedOutput)
        XCTAssertEqual(c.architecture, "llama")
        XCTAssertEqual(c.kvHeads, 2)
        XCTAssertEqual(c.contextLength, 32)

        // transformers ≥ 5 writes the base inside rope_parameters (and no top-level rope_theta).
        config["rope_parameters"] = ["rope_type": "default", "rope_theta": 50_000.0]
        let v5 = try ModelConfig(huggingFace: try HuggingFaceFolder(path: try writeSingle(m, config: config)))
        XCTAssertEqual(v5.ropeBase, 50_000)
        config["rope_parameters"] = nil
        config["rope_scaling"] = ["rope_type": "default"]
        XCTAssertEqual(try ModelConfig(huggingFace: try HuggingFaceFolder(path: try writeSingle(m, config: config))).ropeBase, 10_000)
    }

    func testWeightErrorsNameTheTensor() throws {
        // A shape that disagrees with config.json.
        var m = RandomModel(seed: 3)
        let i = m.tensors.firstIndex { $0.name == "model.layers.1.self_attn.k_proj.weight" }!
        m.tensors[i].shape = [m.width, 32]
        let folder = try writeSingle(m)
        XCTAssertThrowsError(try Decoder(huggingFace: folder)) { error in
            XCTAssertTrue("\(error)".contains("tensor model.layers.1.self_attn.k_proj.weight has shape [64, 32], expected [32, 64]"), "\(error)")
        }
        // A missing tensor, and a missing lm_head when untied.
        var noNorm = RandomModel(seed: 3)
        noNorm.tensors.removeAll { $0.name == "model.norm.weight" }
        XCTAssertThrowsError(try Decoder(huggingFace: try writeSingle(noNorm))) { XCTAssertTrue("\($0)".contains("tensor model.norm.weight is missing")) }
        var noHead = RandomModel(seed: 3)
        noHead.tensors.removeAll { $0.name == "lm_head.weight" }
        XCTAssertThrowsError(try Decoder(huggingFace: try writeSingle(noHead))) {
            XCTAssertTrue("\($0)".contains("lm_head.weight is missing (config.json has tie_word_embeddings false)"), "\($0)")
        }
    }

    func testShardErrors() throws {
        let m = RandomModel(seed: 4)
        // A missing shard is named with a tensor it should hold.
        let missing = try writeSharded(m, dtype: .f32)
        try FileManager.default.removeItem(atPath: missing + "/model-00002-of-00002.safetensors")
        XCTAssertThrowsError(try HuggingFaceFolder(path: missing)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(missing + "/model.safetensors.index.json"), message)
            XCTAssertTrue(message.contains("shard model-00002-of-00002.safetensors"), message)
            XCTAssertTrue(message.contains("is missing"), message)
        }
        // A name mapped to a shard that lacks it.
        let wrong = try writeSharded(m, dtype: .f32)
        let indexPath = wrong + "/model.safetensors.index.json"
        var index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: indexPath))) as! [String: Any]
        var map = index["weight_map"] as! [String: String]
        map["model.norm.weight"] = "model-00001-of-00002.safetensors"
        index["weight_map"] = map
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: indexPath))
        XCTAssertThrowsError(try HuggingFaceFolder(path: wrong)) { error in
            XCTAssertTrue("\(error)".contains("tensor model.norm.weight is mapped to shard model-00001-of-00002.safetensors, which does not contain it"), "\(error)")
        }
        // No weights at all.
        let empty = try newFolder()
        try writeConfig(m.config, to: empty)
        XCTAssertThrowsError(try HuggingFaceFolder(path: empty)) { XCTAssertTrue("\($0)".contains("model.safetensors.index.json"), "\($0)") }
        XCTAssertThrowsError(try HuggingFaceFolder(path: try newFolder())) { XCTAssertTrue("\($0)".contains("config.json is missing"), "\($0)") }
    }
}

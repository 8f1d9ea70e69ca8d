import EffiCore
import EffiFormats
import Foundation

/// A tiny random decoder with a tiny byte-level BPE tokenizer, as a GGUF file written by
/// `GGUFBuilder` (independently of the library's GGUF writer): llama (Q/K rows in llama.cpp's
/// permuted order, as far as the loader is concerned) or qwen2 (q/k/v biases, rotate-half).
public struct TinyGGUFModel {
    public var architecture = "llama"
    public var layers = 2, width = 32, heads = 4, kvHeads = 2, ffn = 48, context = 64
    public var tied = false
    /// Changes the metadata before the file is written (e.g. to damage one key).
    public var editMetadata: (inout GGUFBuilder) -> Void = { _ in }
    public static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    public static let merges = ["Ġ t", "h e", "Ġt he"]
    public static let chatTemplate = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"

    public init(architecture: String = "llama", tied: Bool = false) {
        self.architecture = architecture
        self.tied = tied
    }

    /// GPT-2's byte-to-character table (bytes_to_unicode).
    public static var byteCharacters: [String] {
        let printable = Set(Array(33...126) + Array(161...172) + Array(174...255))
        var characters = [Int](repeating: 0, count: 256)
        var next = 256
        for b in 0..<256 {
            if printable.contains(b) { characters[b] = b } else { characters[b] = next; next += 1 }
        }
        return characters.map { String(Character(Unicode.Scalar(UInt32($0))!)) }
    }

    /// The vocabulary: the 256 byte tokens, one token per merge, then the special tokens.
    public static var tokens: [String] {
        byteCharacters + merges.map { $0.replacingOccurrences(of: " ", with: "") } + specials
    }

    public var vocabulary: Int { Self.tokens.count }

    /// Writes the file under the temporary folder and returns its path.
    public func write(seed: UInt64) throws -> String {
        var b = GGUFBuilder()
        let a = architecture
        b.add("general.architecture", string: a)
        b.add("general.name", string: "tiny-\(a)")
        b.add("\(a).block_count", uint32: UInt32(layers))
        b.add("\(a).context_length", uint32: UInt32(context))
        b.add("\(a).embedding_length", uint32: UInt32(width))
        b.add("\(a).feed_forward_length", uint32: UInt32(ffn))
        b.add("\(a).attention.head_count", uint32: UInt32(heads))
        b.add("\(a).attention.head_count_kv", uint32: UInt32(kvHeads))
        b.add("\(a).rope.freq_base", float: 10_000)
        b.add("\(a).attention.layer_norm_rms_epsilon", float: 1e-5)
        b.add("general.file_type", uint32: 0)
        b.add("tokenizer.ggml.model", string: "gpt2")
        b.add("tokenizer.ggml.pre", string: "smollm")
        let tokens = Self.tokens
        b.add("tokenizer.ggml.tokens", strings: tokens)
        b.add("tokenizer.ggml.token_type", int32s: tokens.indices.map { $0 >= tokens.count - Self.specials.count ? 3 : 1 })
        b.add("tokenizer.ggml.merges", strings: Self.merges)
        b.add("tokenizer.ggml.bos_token_id", uint32: UInt32(tokens.count - 3))
        b.add("tokenizer.ggml.eos_token_id", uint32: UInt32(tokens.count - 1))
        b.add("tokenizer.ggml.add_bos_token", bool: false)
        b.add("tokenizer.chat_template", string: Self.chatTemplate)

        editMetadata(&b)
        var rng = SplitMix64(seed: seed)
        func add(_ name: String, _ shape: [Int], scale: Float, offset: Float = 0) {
            let values = (0..<shape.reduce(1, *)).map { _ in offset + scale * rng.nextGaussian() }
            b.addF32(name, dims: shape.reversed().map(UInt64.init), values: values)
        }
        let d = width, kv = kvHeads * (width / heads)
        add("token_embd.weight", [vocabulary, d], scale: 1)
        for i in 0..<layers {
            let p = "blk.\(i)."
            add(p + "attn_norm.weight", [d], scale: 0.1, offset: 1)
            add(p + "attn_q.weight", [d, d], scale: 0.2)
            add(p + "attn_k.weight", [kv, d], scale: 0.2)
            add(p + "attn_v.weight", [kv, d], scale: 0.2)
            if a == "qwen2" {
                add(p + "attn_q.bias", [d], scale: 0.1)
                add(p + "attn_k.bias", [kv], scale: 0.1)
                add(p + "attn_v.bias", [kv], scale: 0.1)
            }
            add(p + "attn_output.weight", [d, d], scale: 0.15)
            add(p + "ffn_norm.weight", [d], scale: 0.1, offset: 1)
            add(p + "ffn_gate.weight", [ffn, d], scale: 0.15)
            add(p + "ffn_up.weight", [ffn, d], scale: 0.15)
            add(p + "ffn_down.weight", [d, ffn], scale: 0.12)
        }
        add("output_norm.weight", [d], scale: 0.1, offset: 1)
        if !tied { add("output.weight", [vocabulary, d], scale: 0.3) }
        return try b.write()
    }
}

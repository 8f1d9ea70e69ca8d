import EffiCore

/// The order of the Q and K rows within each attention head. GGUF `llama` (and `mistral`) files
/// store them permuted for the adjacent-pair RoPE, as llama.cpp's convert_hf_to_gguf.py
/// `LlamaModel.permute` writes them: w.reshape(heads, 2, headDim/2, …).swapaxes(1, 2), so row
/// (h, i, j) of the file (i < headDim/2, j < 2) is Hugging Face's row (h, j, i). Hugging Face
/// folders and `qwen2` GGUF files keep the rotate-half order. Anything with one entry per Q or K
/// output row — a weight, a bias, a LoRA B — must be reordered with the weights it goes with.
public enum QKRowOrder {
    /// `t` ([heads · headDim] rows of any width, or a vector) with its rows moved from the order
    /// of `from` to the order of `to`; `t` itself when the two agree.
    public static func reorder(_ t: Tensor, heads: Int, from: RoPELayout, to: RoPELayout) -> Tensor {
        if from == to { return t }
        let rows = t.shape[0], columns = t.count / rows
        precondition(rows % heads == 0 && (rows / heads) % 2 == 0, "\(rows) Q/K rows do not split into \(heads) heads of even size")
        let headDim = rows / heads, half = headDim / 2
        let out = Tensor(shape: t.shape)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let adjacent = h * headDim + i * 2 + j, rotateHalf = h * headDim + j * half + i
                    let (source, target) = to == .adjacentPairs ? (rotateHalf, adjacent) : (adjacent, rotateHalf)
                    (out.data + target * columns).update(from: t.data + source * columns, count: columns)
                }
            }
        }
        return out
    }

    /// The heads whose rows a site's output has: Q's heads for q, the KV heads for k; nil for the
    /// sites whose rows are not permuted.
    public static func heads(of site: Site, _ config: ModelConfig) -> Int? {
        switch site {
        case .q: config.heads
        case .k: config.kvHeads
        default: nil
        }
    }
}

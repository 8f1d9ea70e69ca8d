@testable import EffiCore

/// One exact sum to compare a product's output with: `term(i, j, p)` is the pair (a, b) whose
/// products sum, over p < k, to output element (i, j) of a [rows, columns] result.
struct ExpectedProduct {
    let result: Tensor
    /// What the product accumulated onto (nil when it overwrote).
    let base: Tensor?
    let columns: Int, k: Int
    let label: String
    let term: (Int, Int, Int) -> (Float, Float)
}

/// Runs a frozen weight's forward y (+)= x·Wᵀ and input gradient dx (+)= dy·W on random operands
/// (seeds seed…seed+3) for m rows, and returns each result with the terms of its exact sum
/// over `w`, the weight's values.
func frozenProducts(_ frozen: FrozenLinear, values w: Tensor, rows m: Int, accumulate: Bool, seed: UInt64,
                    label: String) -> [ExpectedProduct] {
    let out = w.rows, inWidth = w.columns
    let x = randomTensor([m, inWidth], seed: seed), dy = randomTensor([m, out], seed: seed + 1)
    let y = randomTensor([m, out], seed: seed + 2), dx = randomTensor([m, inWidth], seed: seed + 3)
    let y0 = y.clone(), dx0 = dx.clone()
    frozen.forward(x, into: y, accumulate: accumulate)
    frozen.inputGradient(dy, into: dx, accumulate: accumulate)
    return [
        ExpectedProduct(result: y, base: accumulate ? y0 : nil, columns: out, k: inWidth, label: "forward " + label) { i, j, p in
            (x[i * inWidth + p], w[j * inWidth + p])
        },
        ExpectedProduct(result: dx, base: accumulate ? dx0 : nil, columns: inWidth, k: out, label: "input gradient " + label) { i, j, p in
            (dy[i * out + p], w[p * inWidth + j])
        },
    ]
}

import EffiCore
@testable import EffiModel
@testable import EffiTrain

/// The small model and data of the Reducer's tests: 6 layers, and examples with a learnable
/// pattern (the next token is (token + 1) mod 50 after a random start), 6–10 tokens long.
enum ReducerFixture {
    static let model = ModelConfig(layers: 6, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 50)

    static func examples(_ count: Int, seed: UInt64) -> [Example] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let start = Int32(rng.next() % 50)
            return Example(tokens: (0..<(6 + i % 5)).map { (start + Int32($0)) % 50 }, promptLength: 1)
        }
    }
}

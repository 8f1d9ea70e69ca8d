import XCTest
import Foundation
import EffiFormats
import EffiCore
import EffiModel
import EffiAdapters
@testable import EffiTrain

final class MultipleChoiceTests: XCTestCase {
    /// Accuracy from hand-made log-likelihoods, computed by hand: item 1's best raw score is
    /// choice 1 but per character choice 0 wins.
    func testAccuracyAndNormalisedAccuracy() {
        let items = [
            MultipleChoiceItem(query: "q", choices: [" aaaa", " b"], gold: 0),       // raw: −4 vs −3 → 1 ✗; norm: −0.8 vs −1.5 → 0 ✓
            MultipleChoiceItem(query: "q", choices: [" x", " y", " z"], gold: 2),    // raw → 2 ✓; norm → 2 ✓
            MultipleChoiceItem(query: "q", choices: [" yes", " no"], gold: 1),       // raw → 0 ✗; norm: −0.25 vs −0.67 → 0 ✗
            MultipleChoiceItem(query: "q", choices: [" a", " bb"], gold: 0),         // raw → 0 ✓; norm: −1 vs −0.83 → 1 ✗
        ]
        let ll: [[Double]] = [[-4, -3], [-5, -6, -1], [-1, -2], [-2, -2.5]]
        let score = MultipleChoiceScore(items: items, logLikelihoods: ll)
        XCTAssertEqual(score.count, 4)
        XCTAssertEqual(score.acc, 0.5)
        XCTAssertEqual(score.accNorm, 0.5)
        XCTAssertEqual(score.accStderr, (0.25 / 3).squareRoot(), accuracy: 1e-12)
    }

    /// The scorer's log-likelihoods (query once, choices from a shared KV cache) equal the sums of
    /// `effilora score`'s per-token log-probabilities over the choice tokens of query + choice.
    func testLogLikelihoodsMatchScoring() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        let lm = try LanguageModel.load(PinnedFiles.smolLM2)
        let item = MultipleChoiceItem(query: "Question: How do you boil an egg?\nAnswer:",
                                      choices: [" Put it in boiling water for ten minutes.", " Freeze it.", " Paint it blue and wait."], gold: 0)
        let scores = try ChoiceScorer(decoder: lm.decoder, tokenizer: lm.tokenizer).logLikelihoods(item)
        let query = lm.tokenizer.encode(item.candidates[0].context)
        for (c, candidate) in item.candidates.enumerated() {
            let tokens = lm.tokenizer.encode(candidate.continuation)
            let logProbs = lm.decoder.nextTokenLogProbs(tokens: query + tokens)
            let expected = logProbs.suffix(tokens.count).reduce(0, +)
            XCTAssertEqual(scores[c], expected, accuracy: 2e-3, "choice \(c)")
        }
    }

    /// With Lily (its router averages over the sequence) the context and each continuation are one
    /// sequence: the scores are read from one pass over what lm-evaluation-harness feeds the model
    /// (query + choice without its last token), which the KV-cache path (context alone, then the
    /// continuation alone) does not give.
    func testLilyScoresWholeSequences() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        let lm = try LanguageModel.load(PinnedFiles.smolLM2)
        var c = AdapterConfig()
        c.method = .lily; c.rank = 4; c.targets = [.v, .down]; c.lily = AdapterConfig.LilyOptions()
        let lily = try Adapters(config: c, model: lm.decoder.config, weights: lm.decoder.weights)
        var rng = SplitMix64(seed: 9)
        for p in lily.parameters { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -0.5...0.5) } }
        lm.decoder.adapter = lily
        XCTAssertTrue(lily.mixesTokensOfASequence)
        let item = MultipleChoiceItem(query: "Question: How do you boil an egg?\nAnswer:", choices: [" Put it in boiling water.", " Freeze it."], gold: 0)
        let scores = try ChoiceScorer(decoder: lm.decoder, tokenizer: lm.tokenizer).logLikelihoods(item)
        let query = lm.tokenizer.encode(item.candidates[0].context)
        for (i, candidate) in item.candidates.enumerated() {
            let tokens = lm.tokenizer.encode(candidate.continuation)
            let input = query + tokens.dropLast(), v = lm.decoder.config.vocabulary
            let all = lm.decoder.logits(tokens: input, batch: 1, seqLen: input.count)
            let logProbs = tokens.indices.map { CrossEntropy.logProbability(row: all.data + (query.count - 1 + $0) * v, count: v, target: tokens[$0]) }
            XCTAssertEqual(scores[i], logProbs.reduce(0, +), accuracy: 1e-6, "choice \(i)")
            // The cached path (the continuation's router average leaves out the query) gives other
            // numbers for the continuation's tokens after the first, so the test tells the paths apart.
            let cache = KVCache(config: lm.decoder.config, capacity: query.count + tokens.count)
            _ = lm.decoder.logitsOfNext(tokens: query, cache: cache)
            let parts = lm.decoder.logitsOfNext(tokens: Array(tokens.dropLast()), cache: cache, allPositions: true)
            let inParts = (1..<tokens.count).reduce(0.0) { $0 + CrossEntropy.logProbability(row: parts.data + ($1 - 1) * v, count: v, target: tokens[$1]) }
            XCTAssertGreaterThan(abs(inParts - logProbs.dropFirst().reduce(0, +)), 1e-2, "choice \(i)")
        }
    }

    /// WinoGrande's partial scoring: one continuation after each context; each score equals the sum of
    /// `effilora score`'s log-probabilities of the continuation tokens after that context.
    func testContextsShareOneContinuation() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2) else { throw XCTSkip("run scripts/setup.sh") }
        let lm = try LanguageModel.load(PinnedFiles.smolLM2)
        let item = MultipleChoiceItem(contexts: ["The trophy did not fit in the suitcase because the trophy",
                                                 "The trophy did not fit in the suitcase because the suitcase"],
                                      continuation: " was too big.", gold: 0)
        let scores = try ChoiceScorer(decoder: lm.decoder, tokenizer: lm.tokenizer).logLikelihoods(item)
        let tokens = lm.tokenizer.encode(item.candidates[0].continuation)
        for (c, candidate) in item.candidates.enumerated() {
            let logProbs = lm.decoder.nextTokenLogProbs(tokens: lm.tokenizer.encode(candidate.context) + tokens)
            XCTAssertEqual(scores[c], logProbs.suffix(tokens.count).reduce(0, +), accuracy: 2e-3, "context \(c)")
        }
        XCTAssertNotEqual(scores[0], scores[1], accuracy: 1e-3, "different contexts give different scores")
    }

    func testBothFileFormatsLoad() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-mc-\(UUID().uuidString).jsonl").path
        try """
        {"query": "Q:", "choices": [" a", " b"], "gold": 1}
        {"contexts": ["It was Ann", "It was Bob"], "continuation": " who won.", "gold": 0}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let items = try MultipleChoiceItem.load(path)
        XCTAssertEqual(items, [MultipleChoiceItem(query: "Q:", choices: [" a", " b"], gold: 1),
                               MultipleChoiceItem(contexts: ["It was Ann", "It was Bob"], continuation: " who won.", gold: 0)])
        XCTAssertEqual(items[1].solved, "It was Ann who won.")
        XCTAssertEqual(items[0].prefixed("X\n\n").candidates.map(\.context), ["X\n\nQ:", "X\n\nQ:"])
    }

    func testBadLinesNameTheFileAndLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-mc-\(UUID().uuidString).jsonl").path
        try "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n{\"query\": \"q\", \"choices\": [\"a\"], \"gold\": 3}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try MultipleChoiceItem.load(path)) { XCTAssertTrue("\($0)".hasPrefix("\(path):2: expected"), "\($0)") }
    }

    /// The paired difference against values worked by hand: d = (0, −1, 1, 1, 0), mean 0.2, sample
    /// variance 2.8 / 4 = 0.7, standard error √(0.7 / 5); over two tasks √(se₁² + se₂²) / 2.
    func testPairedDifference() throws {
        let one = try XCTUnwrap(PairedDifference(before: [true, true, false, false, false], after: [true, false, true, true, false]))
        XCTAssertEqual(one.gain, 0.2, accuracy: 1e-12)
        XCTAssertEqual(one.stderr, (0.7 / 5).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(one.gained, 2)
        XCTAssertEqual(one.lost, 1)
        let two = try XCTUnwrap(PairedDifference(before: [false, false], after: [true, false]))
        XCTAssertEqual(two.stderr, (0.5 / 2).squareRoot(), accuracy: 1e-12)
        let average = try XCTUnwrap(PairedDifference(tasks: [one, two]))
        XCTAssertEqual(average.gain, (0.2 + 0.5) / 2, accuracy: 1e-12)
        XCTAssertEqual(average.stderr, (one.stderr * one.stderr + two.stderr * two.stderr).squareRoot() / 2, accuracy: 1e-12)
        XCTAssertNil(PairedDifference(before: [true], after: [true, false]), "not the same items")
    }
}

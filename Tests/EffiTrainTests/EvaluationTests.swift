import EffiFormats
import EffiTrain
import Foundation
import XCTest

/// Few-shot prompts, answer extraction of the generation mode, task names, and the prepared splits.
final class EvaluationTests: XCTestCase {
    private let pool = (0..<6).map { MultipleChoiceItem(query: "Q\($0):", choices: [" right\($0)", " wrong\($0)"], gold: 0) }

    func testFewShotPromptsAreDistinctSolvedExamplesAndRepeat() throws {
        let item = MultipleChoiceItem(query: "Q:", choices: [" a", " b"], gold: 1)
        var sampler = try FewShotSampler(pool: pool, shots: 3)
        let prompted = sampler.prompt(item)
        let context = prompted.candidates[0].context
        XCTAssertTrue(context.hasSuffix("\n\nQ:"), context)
        let shots = context.dropLast("\n\nQ:".count).components(separatedBy: "\n\n")
        XCTAssertEqual(shots.count, 3)
        XCTAssertEqual(Set(shots).count, 3, "distinct examples")
        for shot in shots { XCTAssertTrue(pool.map(\.solved).contains(shot), "a solved pool example: \(shot)") }
        XCTAssertEqual(prompted.candidates.map(\.continuation), [" a", " b"])
        var again = try FewShotSampler(pool: pool, shots: 3)
        XCTAssertEqual(again.prompt(item), prompted, "seeded")
        XCTAssertNotEqual(sampler.prompt(item), prompted, "each item draws anew")
        var none = try FewShotSampler(pool: [], shots: 0)
        XCTAssertEqual(none.prompt(item), item)
        XCTAssertThrowsError(try FewShotSampler(pool: pool, shots: 7))
    }

    func testGeneratedAnswersNameTheirFirstLabel() {
        let item = GenerationItem(prompt: "p", labels: ["answer1", "answer2", "answer10"], gold: 1)
        XCTAssertEqual(item.extract("the correct answer is answer2"), 1)
        XCTAssertEqual(item.extract("The correct answer is Answer1, not answer2."), 0, "first named, any case")
        XCTAssertEqual(item.extract("answer10"), 2, "whole words: answer1 is not inside answer10")
        XCTAssertNil(item.extract("I am not sure"))
        XCTAssertNil(item.extract("answer12"))
        let boolq = GenerationItem(prompt: "p", labels: ["false", "true"], gold: 1)
        XCTAssertEqual(boolq.extract("the correct answer is true"), 1)
        let score = GenerationScore(items: [item, item, boolq, boolq], answers: [1, nil, 1, 0])
        XCTAssertEqual(score.acc, 0.5)
        XCTAssertEqual(score.unanswered, 1)
        XCTAssertEqual(score.accStderr, (0.25 / 3).squareRoot(), accuracy: 1e-12)
    }

    func testTaskNames() throws {
        XCTAssertEqual(try TaskSuite.expand(["commonsense"]), TaskSuite.commonsense)
        XCTAssertEqual(try TaskSuite.expand(["piqa,boolq", "piqa"]), ["piqa", "boolq"])
        XCTAssertThrowsError(try TaskSuite.expand(["mmlu"])) { XCTAssertTrue("\($0)".contains("unknown task mmlu"), "\($0)") }
    }

    func testAverageOfTasks() {
        let a = MultipleChoiceScore(items: [MultipleChoiceItem(query: "q", choices: [" a", " b"], gold: 0)], logLikelihoods: [[0, -1]])
        var b = a
        b.acc = 0.5; b.accStderr = 0.1; b.accNorm = 0.25; b.accNormStderr = 0.2
        let average = TaskAverage([a, b])
        XCTAssertEqual(average.acc, 0.75)
        XCTAssertEqual(average.accStderr, (0.01 as Double).squareRoot() / 2, accuracy: 1e-12)
        XCTAssertEqual(average.accNorm, 0.625)
    }

    /// scripts/prepare_data.py's splits (when setup has run): no source row in two splits, every row
    /// in one, and each file's line count equal to its split's size.
    func testPreparedSplitsAreDisjoint() throws {
        for task in TaskSuite.commonsense {
            let folder = TaskSuite.defaultDataDirectory + "/" + task
            guard FileManager.default.fileExists(atPath: folder + "/manifest.json") else { throw XCTSkip("run scripts/setup.sh") }
            let manifest = try readJSONObject(folder + "/manifest.json")
            let indices = try XCTUnwrap(manifest["indices"] as? [String: [Int]], task)
            let rows = try XCTUnwrap(manifest["rows"] as? Int, task)
            let all = ["train", "valid", "test"].flatMap { indices[$0] ?? [] }
            XCTAssertEqual(all.count, rows, task)
            XCTAssertEqual(Set(all), Set(0..<rows), task)
            for split in ["train", "valid", "test"] {
                for kind in ["jsonl", "mc.jsonl", "instruct.jsonl"] {
                    XCTAssertEqual(try readJSONLines("\(folder)/\(split).\(kind)").count, indices[split]?.count, "\(task) \(split).\(kind)")
                }
            }
            let test = try MultipleChoiceItem.load(folder + "/test.mc.jsonl")
            let generation = try GenerationItem.load(folder + "/test.instruct.jsonl")
            XCTAssertEqual(test.map(\.gold), generation.map(\.gold), "\(task): the two formats hold the same items in the same order")
        }
    }
}

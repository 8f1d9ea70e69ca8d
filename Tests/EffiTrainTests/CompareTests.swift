import EffiFormats
import EffiTrain
import Foundation
import XCTest

/// `effilora compare` end to end on the real model (one training step, two PIQA items): its table
/// holds each method's training summary, the same accuracies `effilora eval` reports on its own, and
/// the generation results generate_limit asks for.
final class CompareTests: XCTestCase {
    func testCompareTrainsEvaluatesAndTabulates() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2),
              FileManager.default.fileExists(atPath: TaskSuite.defaultDataDirectory + "/piqa/test.mc.jsonl") else { throw XCTSkip("run scripts/setup.sh") }
        try EffiLoRAExecutable.require()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-compare-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try """
        data: piqa
        methods: [base, lora]
        tasks: piqa
        limit: 2
        generate_limit: 1
        train:
          rank: 2
          num_layers: 2
          targets: [q, v]
          iters: 1
          batch_size: 2
          steps_per_eval: 0
          val_batches: 1
        """.write(toFile: base + "/compare.yaml", atomically: true, encoding: .utf8)
        let run = try EffiLoRAExecutable.run(["compare", "-c", base + "/compare.yaml", "--model", PinnedFiles.smolLM2, "--output", base + "/out"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("budget: 1 steps × 2 examples"), run.output)
        let report = try readJSONObject(base + "/out/compare.json")
        let methods = try XCTUnwrap(report["methods"] as? [[String: Any]])
        XCTAssertEqual(methods.map { $0["method"] as? String }, ["base", "lora"])
        XCTAssertNil(methods[0]["training"])
        let training = try XCTUnwrap(methods[1]["training"] as? [String: Any])
        XCTAssertEqual((training["parameters"] as? [String: Any])?["trainable"] as? Int, 2 * 2 * (2 * 576 + 576 + 192), "r (d_in + d_out) for q and v on 2 layers")
        XCTAssertNotNil(training["finalValidationLoss"] as? Double)
        // The gain over base on the same items, paired: Δ acc equals the difference of the two accuracies.
        let gain = try XCTUnwrap((methods[1]["gainOverBase"] as? [String: Any])?["acc"] as? [String: Any])
        let accuracies = try methods.map { try XCTUnwrap(($0["average"] as? [String: Any])?["acc"] as? Double) }
        XCTAssertEqual(try XCTUnwrap(gain["gain"] as? Double), accuracies[1] - accuracies[0], accuracy: 1e-12)
        XCTAssertNil(methods[0]["gainOverBase"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/out/compare.md"))
        // Its report, opened offline in Chromium: every chart drawn (training, cost, accuracy, generation).
        if FileManager.default.isExecutableFile(atPath: Chromium.path) {
            let page = try Chromium.open(base + "/out/report.html", screenshot: base + "/report.png")
            XCTAssertEqual(page.errors, "")
            XCTAssertEqual(page.headings, ["Training", "Cost", "Accuracy"])
            XCTAssertEqual(page.charts, 2 + 3 + 4, "loss ×2 (one run: no final-loss bars); tok/s, RSS, parameters; acc, acc_norm, gain over base, generation")
            XCTAssertEqual(page.drawn, page.charts)
            XCTAssertEqual(page.canvases, page.charts)
        }
        for method in methods {
            let generation = try XCTUnwrap(method["generation"] as? [[String: Any]], "generate_limit adds generation results")
            XCTAssertEqual(generation.count, 1)
            XCTAssertEqual((generation[0]["score"] as? [String: Any])?["count"] as? Int, 1)
        }

        for (method, adapter) in [("base", nil), ("lora", base + "/out/lora/adapter")] as [(String, String?)] {
            let eval = try EffiLoRAExecutable.run(["eval", "--model", PinnedFiles.smolLM2, "--tasks", "piqa", "--limit", "2", "--json"]
                                                  + (adapter.map { ["--adapter", $0] } ?? []))
            XCTAssertEqual(eval.status, 0, eval.output)
            let standalone = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(eval.standardOutput.utf8)) as? [String: Any])
            let expected = try XCTUnwrap((standalone["tasks"] as? [[String: Any]])?.first?["score"] as? NSDictionary)
            let row = try XCTUnwrap(methods.first { $0["method"] as? String == method })
            let got = try XCTUnwrap((row["evaluation"] as? [[String: Any]])?.first?["score"] as? NSDictionary)
            XCTAssertEqual(got, expected, method)
            XCTAssertEqual((got["correct"] as? [Bool])?.count, 2, "per-item results kept")
        }

        let again = try EffiLoRAExecutable.run(["compare", "-c", base + "/compare.yaml", "--model", PinnedFiles.smolLM2, "--output", base + "/out",
                                                "--reuse", "--tasks", "piqa", "--limit", "1", "--generate-limit", "0"])
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("lora: reusing the finished run"), again.output)
        let changed = try EffiLoRAExecutable.run(["compare", "-c", base + "/compare.yaml", "--model", PinnedFiles.smolLM2, "--output", base + "/out",
                                                  "--reuse", "--tasks", "piqa", "--limit", "1", "--generate-limit", "0", "--methods", "lora", "--iters", "2"])
        XCTAssertEqual(changed.status, 0, changed.output)
        XCTAssertTrue(changed.output.contains("$ effilora train") && !changed.output.contains("reusing"), "other train arguments: trained again")

        // --use-best evaluates adapter-best: with validation only at the end, the step-2 adapter.
        let best = try EffiLoRAExecutable.run(["compare", "-c", base + "/compare.yaml", "--model", PinnedFiles.smolLM2, "--output", base + "/out",
                                               "--reuse", "--tasks", "piqa", "--limit", "1", "--generate-limit", "0", "--methods", "lora", "--iters", "2",
                                               "--use-best", "--json"])
        XCTAssertEqual(best.status, 0, best.output)
        XCTAssertTrue(best.output.contains("lora: reusing the finished run"), best.output)
        let bestReport = try readJSONObject(base + "/out/compare.json")
        XCTAssertEqual(bestReport["useBest"] as? Bool, true)
        let bestTraining = try XCTUnwrap(((bestReport["methods"] as? [[String: Any]])?.first)?["training"] as? [String: Any])
        XCTAssertEqual(bestTraining["bestStep"] as? Int, 2)
        XCTAssertEqual(bestTraining["bestValidationLoss"] as? Double, bestTraining["finalValidationLoss"] as? Double)
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/out/lora/adapter-best/adapter_config.json"))
    }

    func testUnknownMethodsAreRefusedBeforeTraining() throws {
        try EffiLoRAExecutable.require()
        let run = try EffiLoRAExecutable.run(["compare", "--methods", "base,qlora", "--tasks", "piqa", "--output", "/nonexistent/x"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.output.contains("unknown method qlora"), run.output)

        // Variants that cannot be trained are refused before anything runs, naming the variant.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-variants-\(UUID().uuidString).yaml").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: file) }
        for (variant, expected) in [("lora: {method: lora, rank: 4}", "lora should be a new name"),
                                    ("wide: {rank: 16}", "wide needs method:"),
                                    ("wide: {method: qlora}", "variant wide: unknown method qlora"),
                                    ("wide: {method: lora, output: elsewhere}", "variants: wide: output is set by compare itself"),
                                    ("wide: {method: lora, learning_rate: fast}", "wide: its train options are not valid"),
                                    ("../up: {method: lora}", "../up should be a new name")] {
            try "methods: [base, wide]\ntasks: piqa\noutput: /nonexistent/x\nvariants:\n  \(variant)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try EffiLoRAExecutable.run(["compare", "-c", file])
            XCTAssertNotEqual(refused.status, 0, variant)
            XCTAssertTrue(refused.output.contains(expected), "\(variant): \(refused.output)")
        }
    }

    /// A variant trains with its own options in place of the shared ones (a list option replaced, not
    /// extended), into a folder of its own name, and compare.json records what each method ran with.
    func testVariantsTrainWithTheirOwnOptions() throws {
        guard FileManager.default.fileExists(atPath: PinnedFiles.smolLM2),
              FileManager.default.fileExists(atPath: TaskSuite.defaultDataDirectory + "/piqa/test.mc.jsonl") else { throw XCTSkip("run scripts/setup.sh") }
        try EffiLoRAExecutable.require()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-variants-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try """
        data: piqa
        methods: [lora, q-rank-4]
        tasks: piqa
        limit: 1
        train: {rank: 2, num_layers: 2, targets: [q, v], iters: 1, batch_size: 2, steps_per_eval: 0, val_batches: 1}
        variants:
          q-rank-4: {method: lora, rank: 4, targets: [q]}
        """.write(toFile: base + "/compare.yaml", atomically: true, encoding: .utf8)
        let run = try EffiLoRAExecutable.run(["compare", "-c", base + "/compare.yaml", "--model", PinnedFiles.smolLM2, "--output", base + "/out"])
        XCTAssertEqual(run.status, 0, run.output)
        let methods = try XCTUnwrap(try readJSONObject(base + "/out/compare.json")["methods"] as? [[String: Any]])
        XCTAssertEqual(methods.map { $0["method"] as? String }, ["lora", "q-rank-4"])
        let trainable = methods.map { (($0["training"] as? [String: Any])?["parameters"] as? [String: Any])?["trainable"] as? Int }
        XCTAssertEqual(trainable, [2 * 2 * (2 * 576 + 576 + 192), 2 * 4 * (576 + 576)], "r (d_in + d_out) on 2 layers: q and v at r 2; q alone at r 4")
        let arguments = try XCTUnwrap(methods[1]["trainArguments"] as? [String])
        let targets = try XCTUnwrap(arguments.firstIndex(of: "--targets"))
        XCTAssertEqual(Array(arguments[targets...].prefix(3)), ["--targets", "q", "--val-batches"], "the variant's list replaces the shared one")
        XCTAssertEqual(arguments[try XCTUnwrap(arguments.firstIndex(of: "--output")) + 1], base + "/out/q-rank-4")
        XCTAssertTrue(FileManager.default.fileExists(atPath: base + "/out/q-rank-4/adapter/adapter_config.json"))
        if FileManager.default.isExecutableFile(atPath: Chromium.path) {
            let page = try Chromium.open(base + "/out/report.html", screenshot: base + "/report.png")
            XCTAssertEqual(page.errors, "")
            XCTAssertEqual(page.charts, 3 + 3 + 2, "loss ×2 and the two runs' final validation losses; tok/s, RSS, parameters; acc, acc_norm (no base: no gain)")
            XCTAssertEqual(page.drawn, page.charts)
        }
    }
}

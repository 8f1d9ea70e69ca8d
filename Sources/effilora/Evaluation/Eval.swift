import ArgumentParser
import EffiCore
import EffiModel
import EffiTrain
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model (and adapter) on the commonsense tasks or a file: accuracy by log-likelihood or generation, or loss.",
        discussion: """
        --mode choice (default): multiple-choice items {"query", "choices": [...], "gold": i} (or {"contexts": [...], \
        "continuation", "gold"}); each choice is scored by the summed log-likelihood of its tokens given the query, \
        with lm-evaluation-harness's prompts (the query runs once, shared by its choices); reports acc and acc_norm \
        (per character of the choice) with standard errors, per task and averaged. \
        --mode generate: instruction-style items {"prompt", "choices": [labels], "gold"} (the tasks' .instruct.jsonl \
        files); the model answers greedily and the first label it names is its answer. \
        --mode loss --file F: a file in a training format ({"text"}, {"prompt","completion"}, {"messages"}): mean \
        next-token loss over the trained tokens and perplexity (mlx-lm's --test).
        Examples: effilora eval --model M --tasks commonsense --limit 100; effilora eval --model M --adapter out/run/adapter \
        --tasks piqa,boolq --num-fewshot 5 --markdown; effilora eval --model M --file items.jsonl --json
        """)

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @OptionGroup var precision: PrecisionOptions
    @OptionGroup var adapters: AdapterChoice
    @Option(help: "Tasks, comma-separated: \(TaskSuite.commonsense.joined(separator: ",")), or commonsense for all eight.") var tasks: String?
    @Option(help: "An evaluation file (JSONL) instead of --tasks.") var file: String?
    @Option(help: "The tasks' split: test | valid.") var split = "test"
    @Option(help: "Where the prepared tasks are (default: the cache's data folder).") var data = TaskSuite.defaultDataDirectory
    @Option(help: "choice | generate | loss.") var mode = "choice"
    @Option(help: "Evaluate only the first N items of each task (0: all).") var limit = 0
    @Option(help: "Solved examples before each item (from the task's train split, or --fewshot-file).") var numFewshot = 0
    @Option(help: "The few-shot examples' file for --file (multiple-choice format).") var fewshotFile: String?
    @Option(help: "Tokens generated per answer in generate mode.") var maxTokens = 16
    @Option(help: "Examples per batch in loss mode; items generated together in generate mode.") var batchSize = 8
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print the table as Markdown.") var markdown = false

    struct LossReport: Encodable { let file: String; let examples: Int; let targets: Int; let loss: Double; let perplexity: Double }
    struct ChoiceReport: Encodable { let model: String; let adapters: [String]; let tasks: [ChoiceResult]; let average: TaskAverage? }
    struct GenerationReport: Encodable { let model: String; let adapters: [String]; let tasks: [GenerationResult] }

    func validate() throws {
        guard ["choice", "generate", "loss"].contains(mode) else { throw ValidationError("--mode is choice, generate or loss") }
        guard (tasks == nil) != (file == nil) else { throw ValidationError("give --tasks or --file") }
        guard mode != "loss" || file != nil else { throw ValidationError("--mode loss takes --file") }
        guard ["test", "valid"].contains(split) else { throw ValidationError("--split is test or valid") }
        guard limit >= 0, batchSize > 0, maxTokens > 0, numFewshot >= 0 else {
            throw ValidationError("--limit and --num-fewshot ≥ 0; --batch-size and --max-tokens > 0")
        }
        guard numFewshot == 0 || mode == "choice" else { throw ValidationError("--num-fewshot applies to --mode choice") }
        guard numFewshot == 0 || tasks != nil || fewshotFile != nil else { throw ValidationError("--num-fewshot with --file needs --fewshot-file") }
    }

    func run() throws {
        let lm = try loadModel(model, adapters: adapters, precision: precision)
        if mode == "loss", let file { return try evaluateLoss(lm, file: file) }
        let sources = try file.map { [EvalSource(name: ($0 as NSString).lastPathComponent, file: $0, fewShotFile: fewshotFile)] }
            ?? EvalSource.tasks([tasks ?? ""], split: split, kind: mode == "choice" ? "mc" : "instruct", data: data, fewShot: numFewshot > 0)
        var evaluator = SuiteEvaluator(model: lm, limit: limit, shots: numFewshot)
        evaluator.generationBatch = batchSize
        let quiet = json || markdown
        if mode == "generate" {
            let results = try evaluator.generate(sources, maxTokens: maxTokens) { r in
                if !quiet { emit(String(format: "%@: %d items: acc %@, %d unanswered (%.1f s, %d tokens generated, %.1f tok/s)", r.task, r.score.count,
                                        withError(r.score.acc, r.score.accStderr), r.score.unanswered, r.seconds, r.generatedTokens, r.tokensPerSecond)) }
            }
            if json { return try printJSON(GenerationReport(model: model, adapters: adapters.paths, tasks: results)) }
            let table = SuiteEvaluator.generationTable(results)
            return print(markdown ? table.markdown() : "\n" + table.text())
        }
        let results = try evaluator.choices(sources) { r in
            if !quiet { emit(String(format: "%@: %d items: acc %@, acc_norm %@ (%.1f s)", r.task, r.score.count,
                                    withError(r.score.acc, r.score.accStderr), withError(r.score.accNorm, r.score.accNormStderr), r.seconds)) }
        }
        if json {
            return try printJSON(ChoiceReport(model: model, adapters: adapters.paths, tasks: results,
                                              average: results.count > 1 ? TaskAverage(results.map(\.score)) : nil))
        }
        let table = SuiteEvaluator.choiceTable(results)
        print(markdown ? table.markdown() : "\n" + table.text())
    }

    private func evaluateLoss(_ lm: LanguageModel, file: String) throws {
        let start = monotonicSeconds()
        let data = try Dataset(path: file, tokenizer: lm.tokenizer, chatTemplate: try? lm.chatTemplate(), options: .init())
        let examples = limit > 0 ? Array(data.examples.prefix(limit)) : data.examples
        let batcher = Batcher(examples: examples, batchSize: batchSize, seed: 0)
        let (loss, targets) = try meanLoss(batcher, pass: TrainingPass(decoder: lm.decoder), adapter: lm.decoder.adapter, context: file)
        let report = LossReport(file: file, examples: examples.count, targets: targets, loss: loss, perplexity: exp(loss))
        if json { return try printJSON(report) }
        print(String(format: "%@: %d examples, %d targets: loss %.4f, perplexity %.3f (%.1f s)", file, examples.count, targets,
                     loss, report.perplexity, monotonicSeconds() - start))
    }
}

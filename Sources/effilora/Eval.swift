import ArgumentParser
import EffiCore
import EffiModel
import EffiTrain
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model (and adapter): multiple-choice accuracy by log-likelihood, or loss over a file.",
        discussion: """
        --mode choice (default): a JSONL file of {"query", "choices": [...], "gold": i}; each choice is scored by \
        the summed log-likelihood of its tokens given the query (the query runs once, shared by its choices); \
        reports acc and acc_norm (per character of the choice), as lm-evaluation-harness does, with standard errors. \
        --mode loss: a file in a training format ({"text"}, {"prompt","completion"}, {"messages"}): mean \
        next-token loss over the trained tokens and perplexity (mlx-lm's --test).
        """)

    @Option(help: "A GGUF file or a Hugging Face folder.") var model: String
    @Option(help: "An adapter folder written by train, or a PEFT LoRA folder.") var adapter: String?
    @Option(help: "The evaluation file (JSONL).") var file: String
    @Option(help: "choice | loss.") var mode = "choice"
    @Option(help: "Evaluate only the first N items (0: all).") var limit = 0
    @Option(help: "Examples per batch in loss mode.") var batchSize = 8
    @Flag(help: "Print JSON.") var json = false

    struct LossReport: Encodable { let file: String; let examples: Int; let targets: Int; let loss: Double; let perplexity: Double }
    struct ChoiceReport: Encodable { let file: String; let score: MultipleChoiceScore; let seconds: Double }

    func validate() throws {
        guard ["choice", "loss"].contains(mode) else { throw ValidationError("--mode is choice or loss") }
        guard limit >= 0, batchSize > 0 else { throw ValidationError("--limit ≥ 0 and --batch-size > 0") }
    }

    func run() throws {
        let lm = try loadModel(model, adapter: adapter)
        let start = monotonicSeconds()
        if mode == "loss" {
            let data = try Dataset(path: file, tokenizer: lm.tokenizer, chatTemplate: try? lm.chatTemplate(), options: .init())
            let examples = limit > 0 ? Array(data.examples.prefix(limit)) : data.examples
            let batcher = Batcher(examples: examples, batchSize: batchSize, seed: 0)
            let (loss, targets) = try meanLoss(batcher, pass: TrainingPass(decoder: lm.decoder), adapter: lm.decoder.adapter, context: file)
            let report = LossReport(file: file, examples: examples.count, targets: targets, loss: loss, perplexity: exp(loss))
            if json { return try printJSON(report) }
            return print(String(format: "%@: %d examples, %d targets: loss %.4f, perplexity %.3f (%.1f s)", file, examples.count, targets,
                                loss, report.perplexity, monotonicSeconds() - start))
        }
        var items = try MultipleChoiceItem.load(file)
        if limit > 0 { items = Array(items.prefix(limit)) }
        guard !items.isEmpty else { throw ValidationError("\(file) has no items") }
        let scorer = ChoiceScorer(decoder: lm.decoder, tokenizer: lm.tokenizer)
        var scores: [[Double]] = []
        let interactive = isatty(STDERR_FILENO) == 1
        for (i, item) in items.enumerated() {
            scores.append(try scorer.logLikelihoods(item))
            if interactive {
                let elapsed = monotonicSeconds() - start, eta = elapsed / Double(i + 1) * Double(items.count - i - 1)
                FileHandle.standardError.write(Data("\r\u{1B}[K\(i + 1)/\(items.count)  ETA \(ProgressDisplay.duration(eta))".utf8))
            }
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        let score = MultipleChoiceScore(items: items, logLikelihoods: scores)
        let report = ChoiceReport(file: file, score: score, seconds: monotonicSeconds() - start)
        if json { return try printJSON(report) }
        print(String(format: "%@: %d items: acc %.4f ± %.4f, acc_norm %.4f ± %.4f (%.1f s)", file, score.count, score.acc,
                     score.accStderr, score.accNorm, score.accNormStderr, report.seconds))
    }
}

import ArgumentParser
import EffiModel
import Foundation

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a text: per-token log-probabilities, mean next-token NLL and perplexity.")

    @Option(help: "A GGUF file or a Hugging Face folder.")
    var model: String
    @OptionGroup var precision: PrecisionOptions

    @OptionGroup var adapters: AdapterChoice

    @Option(help: "The text to score.")
    var text: String

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "With --json: also the token ids and the logits at every position (for cross-checks with other tools).")
    var logits = false

    struct Token: Encodable {
        let id: Int32
        let text: String
        /// log p(token | the tokens before it).
        let logProb: Double
    }

    struct Report: Encodable {
        let model: String
        let tokens: Int
        let scored: [Token]
        let meanNLL: Double
        let perplexity: Double
        var ids: [Int32]? = nil
        /// [position][vocabulary]: the logits of the token after each position.
        var logits: [[Float]]? = nil
    }

    func run() throws {
        let lm = try loadModel(model, adapters: adapters, precision: precision)
        let ids = lm.tokenizer.encode(text)
        guard ids.count >= 2 else { throw ValidationError("the text has \(ids.count) token(s); scoring needs at least 2") }
        guard ids.count <= lm.decoder.config.contextLength else {
            throw ValidationError("the text has \(ids.count) tokens, more than the model's context of \(lm.decoder.config.contextLength)")
        }
        let logProbs = lm.decoder.nextTokenLogProbs(tokens: ids)
        let scored = (1..<ids.count).map { i in
            Token(id: ids[i], text: lm.tokenizer.decode([ids[i]]), logProb: logProbs[i - 1])
        }
        let meanNLL = -logProbs.reduce(0, +) / Double(logProbs.count)
        var report = Report(model: model, tokens: ids.count, scored: scored, meanNLL: meanNLL, perplexity: exp(meanNLL))
        if json {
            if logits {
                let all = lm.decoder.logits(tokens: ids, batch: 1, seqLen: ids.count)
                report.ids = ids
                report.logits = (0..<ids.count).map { Array(all.rows($0..<$0 + 1).buffer) }
            }
            try printJSON(report)
        } else {
            for t in scored { print(String(format: "%8.4f  %6d  %@", t.logProb, t.id, t.text.debugDescription)) }
            print(String(format: "%d tokens, %d scored: mean NLL %.4f, perplexity %.3f", ids.count, scored.count, meanNLL, report.perplexity))
        }
    }
}

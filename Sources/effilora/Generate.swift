import ArgumentParser
import EffiModel
import EffiTokenizer
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text from a prompt, streaming it as it is produced.")

    @Option(help: "A GGUF file or a Hugging Face folder.")
    var model: String
    @OptionGroup var precision: PrecisionOptions

    @Option(help: "The prompt (the user message with --chat).")
    var prompt: String

    @Option(help: "Most tokens to generate.")
    var maxTokens = 128

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(help: "Sample only among the k most likely tokens (0: all).")
    var topK = 0

    @Option(help: "Sample only among the most likely tokens that together reach this probability.")
    var topP: Float = 1

    @Option(help: "Random seed for sampling (default: a random one, printed with --verbose).")
    var seed: UInt64?

    @OptionGroup var adapters: AdapterChoice

    @Flag(help: "Wrap the prompt in the model's chat template as a user message.")
    var chat = false

    @Option(name: [.long, .customLong("system-prompt")], help: "System message for --chat (default: the template's own, if any).")
    var system: String?

    @Flag(help: "Print timings to standard error.")
    var verbose = false

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0") }
    }

    func run() throws {
        let lm = try loadModel(model, adapters: adapters, precision: precision)
        var ids = lm.tokenizer.encode(prompt)
        if chat {
            // The messages' text stays text: a special token spelled in the prompt is not a control token.
            var messages = [ChatMessage(role: "user", content: prompt)]
            if let system { messages.insert(ChatMessage(role: "system", content: system), at: 0) }
            ids = try lm.chatTemplate().encode(messages, with: lm.tokenizer)
        }
        let seed = self.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        var sampler = Sampler(temperature: temperature, topK: topK, topP: topP, seed: seed)
        let result = try Generator(model: lm).generate(prompt: ids, maxTokens: maxTokens, sampler: &sampler) { piece in
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
        FileHandle.standardOutput.write(Data("\n".utf8))
        if verbose {
            let stats = String(format: "prompt %d tokens in %.2f s (%.0f tok/s); generated %d in %.2f s (%.1f tok/s); finish: %@; seed %llu\n",
                               result.promptTokens, result.prefillSeconds, Double(result.promptTokens) / result.prefillSeconds,
                               result.tokens.count, result.decodeSeconds, Double(result.tokens.count) / max(result.decodeSeconds, 1e-9),
                               result.finishReason.rawValue, seed)
            FileHandle.standardError.write(Data(stats.utf8))
        }
    }
}

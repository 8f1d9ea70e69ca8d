import ArgumentParser
import EffiModel
import EffiTokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids and pieces of a text under a model's tokenizer.")

    @Option(help: "A GGUF file, a Hugging Face folder, or a tokenizer.json.")
    var model: String

    @Option(help: "The text to tokenize.")
    var text: String

    @Flag(help: "Print JSON.")
    var json = false

    struct Token: Encodable {
        let id: Int32
        /// The vocabulary spelling (byte-level characters, e.g. "Ġthe").
        let piece: String
        /// The text it stands for (U+FFFD where it holds part of a character).
        let text: String
    }

    func run() throws {
        let tokenizer = try LanguageModel.tokenizer(model)
        let tokens = tokenizer.encode(text).map {
            Token(id: $0, piece: tokenizer.vocabulary[Int($0)], text: tokenizer.decode([$0]))
        }
        if json {
            try printJSON(tokens)
        } else {
            print(tokens.map { "\($0.id)" }.joined(separator: " "))
            for t in tokens { print("\(t.id)\t\(t.piece.debugDescription)\t\(t.text.debugDescription)") }
            print("\(tokens.count) tokens")
        }
    }
}

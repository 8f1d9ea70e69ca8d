import EffiFormats
import EffiTokenizer

/// Which turns of a `{"messages"}` conversation are loss targets.
public enum ChatTargets: String, Codable, Sendable, CaseIterable {
    /// The content of every assistant turn (what PEFT/TRL users expect); system and user turns,
    /// and each turn's `<|im_start|>role\n` header, are prompt.
    case allAssistant = "all-assistant"
    /// Only the last assistant turn's content (before all-assistant, this tool trained the last
    /// message, whatever its role).
    case lastAssistant = "last-assistant"
    /// Every token (what --no-mask-prompt means for chat data).
    case all
}

extension Dataset {
    /// The conversation as the chat template renders it, tokenized turn by turn: each turn is its
    /// header `<|im_start|>role\n` and its body `content<|im_end|>\n`, and a trained turn's body
    /// is a target span. The split at the header is where generation starts an answer (the
    /// generation prompt ends with the header).
    static func chatExample(_ messages: [ChatMessage], template: ChatTemplate, targets: ChatTargets, bos: [Int32],
                            tokenizer: Tokenizer, location: String) throws -> Example {
        let lastAssistant = messages.lastIndex { $0.role == "assistant" }
        guard targets == .all || lastAssistant != nil else {
            throw FormatError(location, "has no assistant message to train on (roles: \(messages.map(\.role).joined(separator: ", ")))")
        }
        var tokens = bos, spans: [Range<Int>] = []
        for turn in template.turns(messages) {
            let (header, body) = turn.tokens(tokenizer)
            tokens += header
            let trained = switch targets {
            case .all: true
            case .allAssistant: turn.message.map { messages[$0].role == "assistant" } ?? false
            case .lastAssistant: turn.message == lastAssistant
            }
            if trained { spans.append(tokens.count..<tokens.count + body.count) }
            tokens += body
        }
        return Example(tokens: tokens, targetSpans: targets == .all ? [0..<tokens.count] : spans)
    }
}

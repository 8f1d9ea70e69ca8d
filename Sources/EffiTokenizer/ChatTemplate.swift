import EffiFormats

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// A model's chat template. Templates are Jinja programs; rather than interpret Jinja, this
/// recognises the ChatML family (`<|im_start|>role\ncontent<|im_end|>\n`, as SmolLM2 and Qwen2.5
/// use) and the default system message such a template inserts when the conversation has none.
public struct ChatTemplate: Sendable, Equatable {
    public static let start = "<|im_start|>", end = "<|im_end|>"

    /// The system message added when the conversation does not start with one.
    public let defaultSystem: String?

    /// Fails with a clear error for a template that is not ChatML.
    public init(source: String?, origin: String) throws {
        guard let source else { throw FormatError(origin, "the model has no chat template") }
        guard source.contains(Self.start), source.contains(Self.end) else {
            throw FormatError(origin, "the chat template is not ChatML (<|im_start|>…<|im_end|>), the only format supported: \(source.prefix(120))…")
        }
        defaultSystem = Self.literalSystemMessage(in: source)
    }

    /// `<|im_start|>system\n…<|im_end|>` written out literally in the template (no Jinja inside).
    static func literalSystemMessage(in source: String) -> String? {
        guard let open = source.range(of: start + "system\n"),
              let close = source.range(of: end, range: open.upperBound..<source.endIndex) else { return nil }
        let text = source[open.upperBound..<close.lowerBound]
        return text.contains("{") || text.contains("'") || text.contains("\"") ? nil : String(text)
    }

    /// The prompt text for `messages`, ending with the assistant's opening when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var text = ""
        if let defaultSystem, messages.first?.role != "system" {
            text += Self.start + "system\n" + defaultSystem + Self.end + "\n"
        }
        for message in messages { text += Self.start + message.role + "\n" + message.content + Self.end + "\n" }
        if addGenerationPrompt { text += Self.start + "assistant\n" }
        return text
    }
}

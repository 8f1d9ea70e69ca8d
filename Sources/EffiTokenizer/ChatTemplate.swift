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
        guard source.contains(Self.start), source.contains(Self.end), source.contains(Self.start + "assistant") else {
            throw FormatError(origin, "the chat template is not ChatML (<|im_start|>…<|im_end|>), the only format supported: \(source.prefix(120))…")
        }
        // ChatML variants that rewrite the messages (Qwen3's thinking blocks) would render wrongly.
        if let marker = ["<think>", "enable_thinking", "reasoning_content"].first(where: source.contains) {
            throw FormatError(origin, "the chat template uses \(marker), a ChatML variant that is not supported")
        }
        defaultSystem = Self.literalSystemMessage(in: source)
    }

    /// The first `<|im_start|>system\n…<|im_end|>` written out literally in the template (no Jinja
    /// inside), e.g. SmolLM2's "You are a helpful AI assistant named SmolLM, …" or Qwen2.5's
    /// "You are Qwen, …" (which follows a tools branch that builds its system message in Jinja).
    static func literalSystemMessage(in source: String) -> String? {
        var searchStart = source.startIndex
        while let open = source.range(of: start + "system", range: searchStart..<source.endIndex) {
            searchStart = open.upperBound
            // The newline is a real one in some templates and a Jinja escape (\n) in others.
            let rest = source[open.upperBound...]
            guard let newline = ["\n", "\\n"].first(where: rest.hasPrefix),
                  let close = rest.range(of: end) else { continue }
            let text = rest[rest.index(rest.startIndex, offsetBy: newline.count)..<close.lowerBound]
            if !text.contains(where: { "{}'\"\\".contains($0) }) { return String(text) }
        }
        return nil
    }

    /// One rendered turn: its header `<|im_start|>role\n` and its body `content<|im_end|>\n`;
    /// `message` is its index in the conversation (nil for the inserted default system turn).
    public struct Turn: Sendable, Equatable {
        public var message: Int?
        public var header: String
        public var body: String
    }

    /// The turns the template renders for `messages`, the default system turn first when inserted.
    public func turns(_ messages: [ChatMessage]) -> [Turn] {
        func turn(_ message: ChatMessage, _ index: Int?) -> Turn {
            Turn(message: index, header: Self.start + message.role + "\n", body: message.content + Self.end + "\n")
        }
        var turns: [Turn] = []
        if let defaultSystem, messages.first?.role != "system" { turns.append(turn(ChatMessage(role: "system", content: defaultSystem), nil)) }
        for (index, message) in messages.enumerated() { turns.append(turn(message, index)) }
        return turns
    }

    /// The prompt text for `messages`, ending with the assistant's opening when `addGenerationPrompt`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        turns(messages).map { $0.header + $0.body }.joined() + (addGenerationPrompt ? Self.start + "assistant\n" : "")
    }
}

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

    /// The roles a conversation may hold (tool calls and tool results are not supported).
    public static let roles = ["system", "user", "assistant"]

    /// The first message whose role is not one of `roles`: its index and role.
    public static func unknownRole(in messages: [ChatMessage]) -> (index: Int, role: String)? {
        messages.enumerated().first { !roles.contains($0.element.role) }.map { ($0.offset, $0.element.role) }
    }

    /// One rendered turn: its header `<|im_start|>role\n` and its body `content<|im_end|>\n`;
    /// `message` is its index in the conversation (nil for the inserted default system turn).
    public struct Turn: Sendable, Equatable {
        public var message: Int?
        public var header: String
        public var content: String
        public var body: String { content + ChatTemplate.end + "\n" }

        /// The header's and body's tokens. The content is encoded as plain text, so that special
        /// tokens spelled in a message stay text: a message cannot forge another turn.
        public func tokens(_ tokenizer: Tokenizer) -> (header: [Int32], body: [Int32]) {
            (tokenizer.encodeText(header, specialTokens: true),
             tokenizer.encodeText(content, specialTokens: false) + tokenizer.encodeText(ChatTemplate.end + "\n", specialTokens: true))
        }
    }

    /// The turns the template renders for `messages`, the default system turn first when inserted.
    /// Roles must be among `roles` (the header holds the role verbatim).
    public func turns(_ messages: [ChatMessage]) -> [Turn] {
        precondition(Self.unknownRole(in: messages) == nil, "roles are checked where messages are read")
        func turn(_ message: ChatMessage, _ index: Int?) -> Turn {
            Turn(message: index, header: Self.start + message.role + "\n", content: message.content)
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

    /// The tokens of `render(messages)` with every message's content encoded as plain text (BOS
    /// first when the tokenizer adds one).
    public func encode(_ messages: [ChatMessage], with tokenizer: Tokenizer, addGenerationPrompt: Bool = true) -> [Int32] {
        var ids: [Int32] = tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        for turn in turns(messages) {
            let (header, body) = turn.tokens(tokenizer)
            ids += header + body
        }
        return ids + (addGenerationPrompt ? tokenizer.encodeText(Self.start + "assistant\n", specialTokens: true) : [])
    }
}

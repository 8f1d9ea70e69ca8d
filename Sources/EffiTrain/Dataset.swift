import EffiFormats
import EffiTokenizer
import Foundation

/// What loading a JSONL file found, for the run's report.
public struct DatasetReport: Sendable, Codable, Equatable {
    public var path: String
    public var examples = 0
    public var tokens = 0
    /// Tokens that are loss targets.
    public var targets = 0
    /// Examples cut to max_seq_len (their tail is lost).
    public var truncated = 0
    /// Lines skipped with --skip-bad-lines, with their errors.
    public var skipped: [String] = []
}

/// A JSONL data set in the formats mlx-lm reads: `{"text"}`, `{"prompt", "completion"}`, or
/// `{"messages": [{"role", "content"}, …]}` (the chat template applied; which turns are trained
/// is `Options.chatTargets`). BOS is prepended when the tokenizer adds one, EOS appended to text
/// and prompt/completion examples (a chat turn ends with the template's end marker).
public struct Dataset: Sendable {
    public let examples: [Example]
    public let report: DatasetReport

    public struct Options: Sendable {
        public var maxSeqLen = 2048
        /// Mask prompt tokens from the loss (mlx-lm's --mask-prompt is off by default; here it is
        /// on); off, every token of every example is trained, chats included.
        public var maskPrompt = true
        /// Which turns of a chat are trained when the prompt is masked.
        public var chatTargets = ChatTargets.allAssistant
        public var skipBadLines = false
        public init() {}
    }

    public init(path: String, tokenizer: Tokenizer, chatTemplate: ChatTemplate?, options: Options) throws {
        var report = DatasetReport(path: path)
        var examples: [Example] = []
        for (location, line) in try readJSONLines(path) {
            do {
                var example = try Self.example(line, tokenizer: tokenizer, chatTemplate: chatTemplate,
                                               chatTargets: options.maskPrompt ? options.chatTargets : .all, location: location)
                if !options.maskPrompt { example.setTargets([0..<example.tokens.count]) }
                if example.tokens.count > options.maxSeqLen {
                    example.truncate(to: options.maxSeqLen)
                    report.truncated += 1
                }
                guard example.targetCount > 0 else {
                    throw FormatError(location, "no target tokens left to train on (\(example.tokens.count) tokens after truncation to \(options.maxSeqLen), all of them prompt)")
                }
                examples.append(example)
                report.tokens += example.tokens.count
                report.targets += example.targetCount
            } catch let error as FormatError where options.skipBadLines {
                report.skipped.append(error.description)
            }
        }
        report.examples = examples.count
        guard !examples.isEmpty else { throw FormatError(path, "has no usable examples") }
        self.examples = examples
        self.report = report
    }

    static func example(_ line: Data, tokenizer: Tokenizer, chatTemplate: ChatTemplate?, chatTargets: ChatTargets,
                        location: String) throws -> Example {
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: line) as? [String: Any] else { throw FormatError(location, "is not a JSON object") }
            // A null is an absent field (datasets' to_json writes null for another format's columns).
            object = o.filter { !($0.value is NSNull) }
        } catch let error as FormatError { throw error } catch {
            throw FormatError(location, "is not valid JSON")
        }
        let bos: [Int32] = tokenizer.addsBOS ? tokenizer.bosID.map { [$0] } ?? [] : []
        guard let eos = tokenizer.eosID else { throw FormatError(location, "the tokenizer has no EOS token to end examples with") }
        func string(_ key: String) throws -> String {
            guard let s = object[key] as? String else { throw FormatError(location, "\"\(key)\" is \(JSONKind.describe(object[key])), expected a string") }
            return s
        }
        let formats = ["messages", "prompt", "text"].filter { object[$0] != nil || ($0 == "prompt" && object["completion"] != nil) }
        guard formats.count <= 1 else {
            throw FormatError(location, "has \(formats.map { $0 == "prompt" ? "\"prompt\"/\"completion\"" : "\"\($0)\"" }.joined(separator: " and ")): give one format per line")
        }
        if object["messages"] != nil {
            guard let template = chatTemplate else { throw FormatError(location, "has messages but the model has no supported chat template") }
            guard let raw = object["messages"] as? [[String: Any]], !raw.isEmpty else {
                throw FormatError(location, "\"messages\" must be a non-empty list of {role, content}")
            }
            let messages = try raw.enumerated().map { i, m -> ChatMessage in
                if let calls = m["tool_calls"], !(calls is NSNull), (calls as? [Any])?.isEmpty != true {
                    throw FormatError(location, "messages[\(i)] has tool_calls, which are not supported")
                }
                guard let role = m["role"] as? String, let content = m["content"] as? String else {
                    throw FormatError(location, "messages[\(i)] lacks a string role or content")
                }
                return ChatMessage(role: role, content: content)
            }
            if let (i, role) = ChatTemplate.unknownRole(in: messages) {
                throw FormatError(location, "messages[\(i)] has role \"\(role.prefix(40))\", expected one of \(ChatTemplate.roles.joined(separator: ", "))")
            }
            return try chatExample(messages, template: template, targets: chatTargets, bos: bos, tokenizer: tokenizer, location: location)
        }
        if object["prompt"] != nil || object["completion"] != nil {
            // BOS once, before the prompt (encodeText adds none).
            let prompt = bos + tokenizer.encodeText(try string("prompt"), specialTokens: true)
            return Example(tokens: prompt + tokenizer.encodeText(try string("completion"), specialTokens: true) + [eos], promptLength: prompt.count)
        }
        if object["text"] != nil {
            return Example(tokens: bos + tokenizer.encodeText(try string("text"), specialTokens: true) + [eos], promptLength: 0)
        }
        throw FormatError(location, "has none of \"text\", \"prompt\"/\"completion\", \"messages\" (keys: \(object.keys.sorted().joined(separator: ", ")))")
    }
}

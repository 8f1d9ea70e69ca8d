/// One tokenized example: its ids and which of them are loss targets. Token j is a target when
/// j lies in one of `targetSpans` (it is then predicted from position j − 1, so token 0 never is).
/// A prompt/completion example has one span, from the first completion token to the end; a chat
/// has one per trained turn.
public struct Example: Sendable, Equatable {
    public var tokens: [Int32]
    /// Ascending, disjoint ranges of token positions, within 1..<tokens.count.
    public private(set) var targetSpans: [Range<Int>]

    public init(tokens: [Int32], targetSpans: [Range<Int>]) {
        self.tokens = tokens
        self.targetSpans = []
        setTargets(targetSpans)
    }

    /// Every token after the first `promptLength` is a target (from the second token on).
    public init(tokens: [Int32], promptLength: Int) {
        self.init(tokens: tokens, targetSpans: [max(promptLength, 1)..<tokens.count])
    }

    /// The spans clipped to 1..<tokens.count, empty ones dropped.
    mutating func setTargets(_ spans: [Range<Int>]) {
        let valid = 1..<max(tokens.count, 1)
        targetSpans = spans.map { $0.clamped(to: valid) }.filter { !$0.isEmpty }
    }

    /// Cuts the example to its first `length` tokens (and its targets with it).
    mutating func truncate(to length: Int) {
        tokens.removeLast(max(tokens.count - length, 0))
        setTargets(targetSpans)
    }

    public var targetCount: Int { targetSpans.reduce(0) { $0 + $1.count } }

    /// isTarget[j] for every token position j.
    public var targetFlags: [Bool] {
        var flags = [Bool](repeating: false, count: tokens.count)
        for span in targetSpans { for j in span { flags[j] = true } }
        return flags
    }
}

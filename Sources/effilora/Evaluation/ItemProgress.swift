import EffiCore
import Foundation

/// Evaluation progress over every item of every task: on a terminal a bar with the count and ETA,
/// rewritten in place; elsewhere nothing (each task's result line is the progress).
struct ItemProgress {
    let total: Int
    let interactive = isatty(STDERR_FILENO) == 1
    let started = monotonicSeconds()
    private(set) var done = 0

    init(total: Int) { self.total = total }

    mutating func advance(_ label: String) {
        done += 1
        guard interactive else { return }
        let elapsed = monotonicSeconds() - started
        let eta = elapsed / Double(done) * Double(total - done)
        let width = 30, filled = width * done / max(total, 1)
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[K\(bar) \(done)/\(total) \(label)  ETA \(ProgressDisplay.duration(eta))".utf8))
        if done == total { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

import EffiCore
import EffiTrain
import Foundation

/// Training progress: on a terminal one line rewritten in place (step, loss, tokens/s, ETA);
/// otherwise a plain line every `every` steps and at each validation.
struct ProgressDisplay {
    let total: Int, every: Int
    let interactive = isatty(STDERR_FILENO) == 1
    let started = monotonicSeconds()
    let startStep: Int
    var tokens = 0
    /// Time inside training steps (validation and checkpoints excluded from tokens/s).
    var stepSeconds = 0.0

    init(total: Int, every: Int, start: Int) {
        self.total = total
        self.every = max(every, 1)
        startStep = start
    }

    mutating func update(_ m: StepMetrics) {
        tokens += m.tokens
        stepSeconds += m.seconds
        let elapsed = monotonicSeconds() - started
        let rate = Double(tokens) / max(stepSeconds, 1e-9)
        let eta = elapsed / Double(m.step - startStep) * Double(total - m.step)
        var line = String(format: "step %d/%d  loss %.4f  lr %.2e  |g| %.3f  %.0f tok/s  %.2f s/step  ETA %@",
                          m.step, total, m.loss, m.learningRate, m.gradientNorm, rate, m.seconds, Self.duration(eta))
        if let active = m.activeLayers { line += "  active \(active)" }
        if let v = m.validationLoss { line += String(format: "  val %.4f", v) }
        if let routers = m.routers {
            let collapsed = routers.values.filter(\.collapsed).count
            let confident = routers.values.map(\.confidentFraction).reduce(0, +) / Double(max(routers.count, 1))
            line += String(format: "  routers: %d collapsed of %d, %.0f%% confident tokens", collapsed, routers.count, 100 * confident)
        }
        if interactive {
            let width = 30, done = width * m.step / max(total, 1)
            let bar = String(repeating: "█", count: done) + String(repeating: "·", count: width - done)
            FileHandle.standardError.write(Data("\r\u{1B}[K\(bar) \(line)".utf8))
            if m.validationLoss != nil { FileHandle.standardError.write(Data("\n".utf8)) }
        } else if m.step % every == 0 || m.validationLoss != nil || m.step == total {
            emit(line)
        }
    }

    var elapsed: Double { monotonicSeconds() - started }

    func finish() { if interactive { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
    }
}

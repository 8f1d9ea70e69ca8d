import EffiFormats
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One training run per run folder: an exclusive lock on `FOLDER/.lock` (flock), held while the
/// object lives and released by the system when the process ends, however it ends. A second run
/// into the same folder fails at once instead of interleaving its metrics and checkpoints.
public final class RunFolderLock {
    public static let fileName = ".lock"
    public let folder: String
    private let descriptor: Int32

    public init(_ folder: String) throws {
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = (folder as NSString).appendingPathComponent(Self.fileName)
        descriptor = open(path, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else { throw FormatError(path, "cannot be opened (\(String(cString: strerror(errno))))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            close(descriptor)
            throw FormatError(folder, "is in use by another run (process \(holder) holds \(Self.fileName)); wait for it to end or choose another output folder")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    /// The files and folders a run writes in its folder; only these count as an earlier run, and
    /// only these `--overwrite` removes (a log the user redirects into the folder stays).
    public static func isRunFile(_ name: String) -> Bool {
        ["metrics.jsonl", "run.json", "summary.json", "report.html", "analysis.json", "checkpoints", "adapter", "adapter-best"].contains(name)
            || name.hasPrefix("adapter.") || name.hasPrefix("adapter-best.") || name.hasPrefix("activation-cache")
    }

    /// An earlier run's files in the folder, sorted.
    public var earlierRun: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter(Self.isRunFile).sorted()
    }

    /// A new run starts where no earlier run's files are: they are an error unless `overwrite`
    /// (then `removeEarlierRun` deletes them, after the model and data have loaded).
    public func requireNoEarlierRun(unless overwrite: Bool) throws {
        let earlier = earlierRun
        guard !earlier.isEmpty, !overwrite else { return }
        throw FormatError(folder, "already holds a run (\(earlier.prefix(4).joined(separator: ", "))\(earlier.count > 4 ? ", …" : "")): continue it with --resume \(folder), start over with --overwrite, or choose another --output")
    }

    /// Removes the earlier run's files (nothing else in the folder).
    public func removeEarlierRun() throws {
        for name in earlierRun { try FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name)) }
    }
}

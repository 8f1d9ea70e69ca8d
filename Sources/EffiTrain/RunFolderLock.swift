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

    /// What the folder holds besides the lock (an earlier run's files), sorted.
    public var earlierContents: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0 != Self.fileName }.sorted()
    }

    /// A new run starts in an empty folder: an earlier run's files are an error, or with
    /// `overwrite` are removed first (never mixed into the new run's metrics and checkpoints).
    public func requireFresh(overwrite: Bool) throws {
        let earlier = earlierContents
        guard !earlier.isEmpty else { return }
        guard overwrite else {
            throw FormatError(folder, "already holds \(earlier.prefix(4).joined(separator: ", "))\(earlier.count > 4 ? ", …" : ""): continue that run with --resume \(folder), start over with --overwrite, or choose another --output")
        }
        for name in earlier { try FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name)) }
    }
}

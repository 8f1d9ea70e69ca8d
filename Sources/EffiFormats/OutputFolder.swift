import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output folders written whole or not at all, and never over their own input.
public enum OutputFolder {
    /// The names beside `folder` that `replace` writes into and moves the old content to (this
    /// tool's own, so a user's `NAME.old` is never taken for one).
    static func swapNames(_ folder: String) -> (partial: String, old: String) {
        (folder + ".effilora-partial", folder + ".effilora-old")
    }

    /// Fills a fresh `FOLDER.effilora-partial` with `write`, then swaps it into place with two
    /// renames: the previous content moves to `FOLDER.effilora-old` and is removed after. A
    /// failure in `write` leaves `folder` as it was; a kill between the renames leaves the old
    /// content beside it, which the next call (or `restoreInterruptedSwap`) puts back. An existing
    /// non-empty folder is replaced only when it holds `marker` (a file this kind of output
    /// writes), so a folder of other files is never deleted by pointing an output at it.
    public static func replace(_ path: String, marker: String, write: (String) throws -> Void) throws {
        let fm = FileManager.default, folder = URL(fileURLWithPath: path).standardizedFileURL.path
        let (partial, old) = swapNames(folder)
        try restoreInterruptedSwap(folder)
        let existing = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
        if !existing.isEmpty, !existing.contains(marker) {
            throw FormatError(folder, "exists and holds other files than an earlier output (no \(marker)); write to a new or empty folder")
        }
        try? fm.removeItem(atPath: partial)
        do {
            try fm.createDirectory(atPath: partial, withIntermediateDirectories: true)
            try write(partial)
        } catch {
            try? fm.removeItem(atPath: partial)
            throw error
        }
        try? fm.removeItem(atPath: old)
        if fm.fileExists(atPath: folder) {
            guard rename(folder, old) == 0 else { throw FormatError(folder, "cannot be moved aside (\(String(cString: strerror(errno))))") }
        }
        guard rename(partial, folder) == 0 else { throw FormatError(folder, "cannot be renamed into place (\(String(cString: strerror(errno))))") }
        try? fm.removeItem(atPath: old)
    }

    /// Puts the old content back when a kill came between `replace`'s two renames.
    public static func restoreInterruptedSwap(_ path: String) throws {
        let fm = FileManager.default, folder = URL(fileURLWithPath: path).standardizedFileURL.path, old = swapNames(folder).old
        guard !fm.fileExists(atPath: folder), fm.fileExists(atPath: old) else { return }
        guard rename(old, folder) == 0 else { throw FormatError(old, "cannot be put back as \(folder) (\(String(cString: strerror(errno))))") }
    }

    /// An error when writing `output` would destroy `input`: `output` is `input`, or a folder
    /// holding it (replacing it removes the input). Compared by identity (device and inode), so a
    /// symbolic link, a hard link or a bind mount of the input is caught, not only the same path.
    public static func refuseOverlap(output: String, input: String) throws {
        guard let target = identity(of: output) else { return }   // not there yet: cannot be the input
        // The input's real path: a folder reached through a symbolic link is checked as itself.
        var url = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
        while true {
            if identity(of: url.path) == target {
                throw FormatError(output, "is \(identity(of: input) == target ? "" : "a folder holding ")\(input), which this command reads; write to another path")
            }
            if url.path == "/" { return }
            url.deleteLastPathComponent()
        }
    }

    struct Identity: Equatable {
        let device: UInt64, inode: UInt64
    }

    static func identity(of path: String) -> Identity? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return Identity(device: UInt64(s.st_dev), inode: UInt64(s.st_ino))
    }
}

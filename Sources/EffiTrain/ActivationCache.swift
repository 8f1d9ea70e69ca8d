import EffiCore
import EffiFormats
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The hidden states entering one layer, per training example. When no layer below `layer`
/// carries an adapter branch (the Reducer dropped them, or only the top layers are adapted), the
/// input of `layer` is a fixed function of the example, so a forward can start there instead of at
/// the embeddings once the example has been seen (from the second epoch on). Rows of example i
/// live at rows offsets[i] ..< offsets[i] + length(i) of one [total tokens, d] Float32 block: in
/// memory when it fits `memoryLimit`, else in a memory-mapped file (sparse until written). When the
/// cutoff rises (the Reducer drops more layers), the held states are run through the newly
/// dropped layers rather than recomputed from the embeddings.
public final class ActivationCache {
    public enum Setting: Equatable, Sendable {
        case off
        /// Memory up to `memoryLimit`, else a file in the run folder.
        case auto
        /// A file in this folder.
        case directory(String)
    }

    public let width: Int
    /// The layer whose input is cached (changing it empties the cache).
    public private(set) var layer: Int
    public let bytes: Int
    /// The backing file, when not in memory.
    public let path: String?
    public private(set) var hits = 0, misses = 0
    private let offsets: [Int], lengths: [Int]
    private var filled: [Bool]
    private let base: UnsafeMutablePointer<Float>

    public static let defaultMemoryLimit = 2 << 30

    /// nil for `.off`. `runFolder` holds the file of `.auto` when the states exceed `memoryLimit`.
    public init?(setting: Setting, examples: [Example], width: Int, layer: Int, runFolder: String,
                 memoryLimit: Int = ActivationCache.defaultMemoryLimit) throws {
        let folder: String
        switch setting {
        case .off: return nil
        case .auto: folder = runFolder
        case .directory(let d): folder = d
        }
        self.width = width
        self.layer = layer
        lengths = examples.map(\.tokens.count)
        var start = 0
        offsets = lengths.map { length in defer { start += length }; return start }
        filled = Array(repeating: false, count: examples.count)
        bytes = start * width * MemoryLayout<Float>.stride
        if setting == .auto && bytes <= memoryLimit {
            path = nil
            base = .allocate(capacity: max(start * width, 1))
        } else {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let file = (folder as NSString).appendingPathComponent("activation-cache-\(getpid()).f32")
            let fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { throw FormatError(file, "cannot be created for the activation cache (\(String(cString: strerror(errno))))") }
            defer { close(fd) }
            guard ftruncate(fd, off_t(max(bytes, 1))) == 0,
                  let mapped = mmap(nil, max(bytes, 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
                unlink(file)
                throw FormatError(file, "cannot be mapped for the activation cache (\(bytes) bytes: \(String(cString: strerror(errno))))")
            }
            path = file
            base = mapped.assumingMemoryBound(to: Float.self)
        }
    }

    deinit {
        if let path {
            munmap(base, max(bytes, 1))
            unlink(path)
        } else {
            base.deallocate()
        }
    }

    /// Examples whose states are held.
    public var cachedExamples: Int { filled.filter { $0 }.count }

    /// Held states moved up to a higher layer so far (see `advance`).
    public private(set) var advancedExamples = 0

    /// Caches the input of `layer` from now on; states of another layer are forgotten.
    public func use(layer: Int) {
        guard layer != self.layer else { return }
        self.layer = layer
        filled = Array(repeating: false, count: filled.count)
    }

    /// Moves every held state up to `newLayer` in place: `run` maps a chunk of up to `chunk`
    /// examples (of similar lengths), laid out as a batch [count · seqLen, d], from the input of
    /// the current layer to the input of `newLayer` (the layers between run as the base model).
    public func advance(to newLayer: Int, chunk: Int, _ run: (_ examples: [Int], _ seqLen: Int, _ states: Tensor) -> Void) {
        precondition(newLayer >= layer, "the cache only moves up")
        let held = filled.indices.filter { filled[$0] }
        rewrite(held, chunk: chunk, fromHeld: true, run)
        layer = newLayer
        advancedExamples += held.count
    }

    /// Calls `run` on `examples` in chunks of up to `chunk` examples of similar lengths (shortest
    /// first), each laid out as a batch [count · seqLen, d] holding their current states when
    /// `fromHeld` (else zeros), and keeps what `run` leaves there as their states.
    private func rewrite(_ examples: [Int], chunk: Int, fromHeld: Bool, _ run: (_ examples: [Int], _ seqLen: Int, _ states: Tensor) -> Void) {
        let ordered = examples.sorted { (lengths[$0], $0) < (lengths[$1], $1) }, size = max(chunk, 1)
        for start in stride(from: 0, to: ordered.count, by: size) {
            let part = Array(ordered[start..<min(ordered.count, start + size)])
            let seqLen = part.map { lengths[$0] }.max()!
            let states = Tensor(shape: [part.count * seqLen, width])
            if fromHeld { copy(part, seqLen: seqLen, into: states) }
            run(part, seqLen, states)
            for (b, i) in part.enumerated() { write(i, from: states, row: b * seqLen); filled[i] = true }
        }
    }

    /// Example i's rows from `states`, starting at row `row`.
    private func write(_ i: Int, from states: Tensor, row: Int) {
        (base + offsets[i] * width).update(from: states.data + row * width, count: lengths[i] * width)
    }

    private func copy(_ indices: [Int], seqLen: Int, into: Tensor) {
        into.zero()
        for (b, i) in indices.enumerated() {
            (into.data + b * seqLen * width).update(from: base + offsets[i] * width, count: lengths[i] * width)
        }
    }

    /// The batch's states, row t of example b at row b · seqLen + t of `into` (padding rows zero),
    /// when every example of the batch is held; false (and nothing written) otherwise. Counts a hit or a miss.
    public func gather(_ indices: [Int], seqLen: Int, into: Tensor) -> Bool {
        guard indices.allSatisfy({ filled[$0] }) else { misses += 1; return false }
        hits += 1
        copy(indices, seqLen: seqLen, into: into)
        return true
    }

    /// Keeps the batch's states (the rows of each example, not its padding) from `states` [batch · seqLen, d].
    public func store(_ indices: [Int], seqLen: Int, from states: Tensor) {
        for (b, i) in indices.enumerated() where !filled[i] {
            write(i, from: states, row: b * seqLen)
            filled[i] = true
        }
    }

    /// What a checkpoint keeps of the cache: the layer, which examples it holds, its counters.
    public struct Snapshot: Codable, Equatable, Sendable {
        public var layer: Int
        public var examples: [Int]
        public var hits: Int, misses: Int, advancedExamples: Int
    }

    public var snapshot: Snapshot {
        Snapshot(layer: layer, examples: filled.indices.filter { filled[$0] }, hits: hits, misses: misses, advancedExamples: advancedExamples)
    }

    /// Why a snapshot cannot describe this cache (a layer outside 1..<layers, an example it does
    /// not have), or nil when it can.
    public func problem(with s: Snapshot, layers: Int) -> String? {
        if !(1..<layers).contains(s.layer) { return "activationCache.layer \(s.layer) is not in 1...\(layers - 1)" }
        if let bad = s.examples.first(where: { !filled.indices.contains($0) }) {
            return "activationCache.examples holds \(bad); the training data has \(filled.count) examples"
        }
        return nil
    }

    /// Refills this (new) cache to a snapshot: `run` writes the input of the snapshot's layer for a
    /// chunk of up to `chunk` examples of similar lengths, laid out as a batch [count · seqLen, d].
    public func restore(_ s: Snapshot, chunk: Int, _ run: (_ examples: [Int], _ seqLen: Int, _ states: Tensor) -> Void) {
        use(layer: s.layer)
        rewrite(s.examples, chunk: chunk, fromHeld: false, run)
        hits = s.hits; misses = s.misses; advancedExamples = s.advancedExamples
    }

    public var summary: String {
        let total = hits + misses
        return String(format: "activation cache: input of layer %d for %d examples, %.1f MiB %@; %d of %d batches started there (%.0f%%); %d states moved up as the cutoff rose",
                      layer, cachedExamples, Double(bytes) / 1_048_576, path.map { "in \($0)" } ?? "in memory", hits, total,
                      100 * Double(hits) / Double(max(total, 1)), advancedExamples)
    }
}

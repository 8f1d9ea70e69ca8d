import EffiAdapters
import EffiCore
import EffiFormats
import Foundation

/// A resumable training state in `<output>/checkpoints/step-NNNNNN/`: the adapter (native format),
/// the optimiser's moments (`optimizer.safetensors`, `m.<name>` and `v.<name>`) and `state.json`
/// (step, optimiser steps, the run's options). The folder is written under a temporary name and
/// renamed, so a checkpoint is either complete or absent, even if the process is killed.
public enum Checkpoint {
    public struct State: Codable, Equatable {
        public var step: Int
        public var optimizerSteps: Int
        public var options: TrainingOptions
        public var adapter: AdapterConfig
        /// What the data position refers to: the training examples (count and a hash of their
        /// tokens and targets); a resume on other data is refused.
        public var trainingExamples: Int
        public var trainingDataHash: UInt64
        /// The Reducer's options and state, and the layers' modes (nil without the Reducer).
        public var reducerOptions: ReducerOptions?
        public var reducer: ReducerState?
        public var layerModes: [LayerMode]?
        /// Which examples' layer inputs the activation cache held (its states are recomputed on
        /// resume, so the resumed run starts the same batches from it); nil without a cache.
        public var activationCache: ActivationCache.Snapshot?
        /// Router health counted since the last validation (reported at the next one).
        public var routerStatistics: [String: RouterStatistics]?
        /// The best validation loss so far and early stopping's count.
        public var validation: ValidationTracker?
    }

    /// The run folder of a checkpoint folder (`<run>/checkpoints/step-N`), or `path` itself.
    public static func runFolder(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        return url.deletingLastPathComponent().lastPathComponent == "checkpoints"
            ? url.deletingLastPathComponent().deletingLastPathComponent().path : path
    }

    /// FNV-1a over every example's target spans and tokens.
    public static func dataHash(_ examples: [Example]) -> UInt64 {
        var hash = FNV1a()
        for e in examples {
            hash.add(Int64(e.targetSpans.count))
            for span in e.targetSpans { hash.add(Int64(span.lowerBound)); hash.add(Int64(span.upperBound)) }
            hash.add(Int64(e.tokens.count))
            for t in e.tokens { hash.add(Int64(t)) }
        }
        return hash.value
    }

    public static func folder(output: String, step: Int) -> String {
        (output as NSString).appendingPathComponent(String(format: "checkpoints/step-%06d", step))
    }

    public static func save(output: String, state: State, adapters: Adapters, optimizer: AdamW) throws {
        let final = folder(output: output, step: state.step)
        let partial = final + ".partial"
        let fm = FileManager.default
        try? fm.removeItem(atPath: partial)
        try fm.createDirectory(atPath: partial, withIntermediateDirectories: true)
        try AdapterFile.save(adapters, to: partial)
        var writer = SafetensorsWriter(metadata: ["format": "effilora-adamw"])
        for (name, moments) in optimizer.moments.map({ ($0.key.name, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            writer.add("m." + name, moments.m)
            writer.add("v." + name, moments.v)
        }
        try writer.write(to: (partial as NSString).appendingPathComponent("optimizer.safetensors"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeAtomically(try encoder.encode(state), to: (partial as NSString).appendingPathComponent("state.json"))
        try? fm.removeItem(atPath: final)
        guard rename(partial, final) == 0 else { throw FormatError(final, "cannot be renamed into place (errno \(errno))") }
    }

    /// The newest complete checkpoint under `path` (an output folder), or `path` itself when it is one.
    public static func latest(in path: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: (path as NSString).appendingPathComponent("state.json")) { return path }
        let dir = (path as NSString).appendingPathComponent("checkpoints")
        let names = ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("step-") && !$0.hasSuffix(".partial") }
        guard let newest = names.sorted().last else { throw FormatError(path, "holds no checkpoint (checkpoints/step-NNNNNN with state.json)") }
        return (dir as NSString).appendingPathComponent(newest)
    }

    /// Loads a checkpoint into adapters and optimizer built with the same configuration.
    public static func load(_ checkpoint: String, into adapters: Adapters, optimizer: AdamW) throws -> State {
        let statePath = (checkpoint as NSString).appendingPathComponent("state.json")
        guard let data = FileManager.default.contents(atPath: statePath) else { throw FormatError(statePath, "cannot be read") }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: data) } catch {
            throw FormatError(statePath, "is not a checkpoint state of this version of effilora (\(error)); a checkpoint written by a version with other state fields cannot be resumed")
        }
        try AdapterFile.restore(from: checkpoint, into: adapters)
        // Every saved moment, frozen layers' too: a layer the Reducer re-activates continues from them.
        let file = try SafetensorsFile(path: (checkpoint as NSString).appendingPathComponent("optimizer.safetensors"))
        var moments: [ParameterKey: (m: Tensor, v: Tensor)] = [:]
        for p in adapters.parameters where file.info("m." + p.name) != nil {
            let m = Tensor(shape: p.value.shape), v = Tensor(shape: p.value.shape)
            try file.readFloats("m." + p.name, into: m.data, count: m.count)
            try file.readFloats("v." + p.name, into: v.data, count: v.count)
            moments[p.key] = (m, v)
        }
        optimizer.restore(moments: moments, steps: state.optimizerSteps)
        return state
    }
}

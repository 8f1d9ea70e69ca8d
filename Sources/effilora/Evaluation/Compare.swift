import ArgumentParser
import EffiAdapters
import EffiCore
import EffiFormats
import EffiModel
import EffiTrain
import Foundation

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train several methods on the same data, seed, budget and rank, evaluate each, and print one table.",
        discussion: """
        -c FILE (YAML) holds the comparison: model, data (a folder, or a task prepared in the cache such as \
        commonsense), methods, tasks, limit, split, output, compute_dtype, base_storage; `train:` the `effilora train` options every method \
        shares (keys as in train -c); `reducer:` the options the +reducer methods add; `variants:` named methods with options of \
        their own (NAME: {method: effilora, experts: 2}), which replace the shared ones. Options on the command line \
        win. A method is base (no training: the zero-shot row), lora, effilora, lora-fa, vera, hydralora, dora or lily, with \
        +reducer to add the Reducer, or a variant's name. Each method trains in its own process (so its peak memory is its own) into \
        OUTPUT/METHOD; the tables go to OUTPUT/compare.md and compare.json. generate_limit N (default 0: off) adds a \
        table of generation accuracy on the tasks' instruction-style items (N per task), the format the mixed \
        commonsense file trains.
        Example: effilora compare -c configs/compare.yaml --methods lora,effilora,effilora+reducer --limit 100
        """)

    @Option(name: [.customShort("c"), .long], help: "The comparison's YAML file (see above).") var config: String?
    @Option(help: "A GGUF file or a Hugging Face folder (default: the pinned SmolLM2-135M-Instruct).") var model: String?
    @Option(help: "Training data: a folder with train.jsonl and valid.jsonl, or a prepared name (commonsense).") var data: String?
    @Option(help: "Methods, comma-separated (base, lora, effilora, …, with +reducer).") var methods: String?
    @Option(help: "Tasks to evaluate, comma-separated, or commonsense.") var tasks: String?
    @Option(help: "Items per task (0: all).") var limit: Int?
    @Option(help: "Items per task for the generation accuracy on the instruction-style items (0: none).") var generateLimit: Int?
    @Option(help: "The tasks' split: test | valid.") var split: String?
    @Option(help: "Output folder.") var output: String?
    @Option(help: "Training steps of every method (replaces train: iters).") var iters: Int?
    @Option(help: "Precision of the base's products in training and evaluation: f32 | bf16 | auto.") var computeDtype: ComputePrecision.Choice?
    @Option(help: "How the base is held in training and evaluation: quantized | dense | auto.") var baseStorage: BaseStorage.Choice?
    @Flag(help: "Keep a method's earlier run in the output folder when it finished with the same train arguments.") var reuse = false
    @Flag(inversion: .prefixedNo, help: "Evaluate each method's adapter-best (lowest validation loss) instead of its final adapter.") var useBest: Bool?
    @Flag(help: "Print JSON instead of the tables.") var json = false

    struct Setup {
        var model = PinnedFiles.smolLM2, data = "commonsense", methods = ["base", "effilora"], tasks = "commonsense"
        var limit = 0, generateLimit = 0, split = "test", output = "out/compare", computeDtype = ComputePrecision.Choice.auto
        var baseStorage = BaseStorage.Choice.auto, useBest = false
        var train: [String: Any] = [:], reducer: [String: Any] = ["reducer_keep": 0.25]
        var variants: [String: Variant] = [:]
        /// Train options given on compare's command line (--iters): they win over the file's, variants' included.
        var commandLine: [String: Any] = [:]
    }

    /// A named method with train options of its own, e.g. `effilora-2x: {method: effilora, experts: 2}`.
    struct Variant {
        /// A method as `methods` spells it (lora, effilora+reducer, …).
        let method: String
        let options: [String: Any]

        init(name: String, mapping: [String: Any], file: String) throws {
            let builtIn = AdapterConfig.Method.allCases.map(\.rawValue) + ["base"]
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), !name.hasPrefix("."),
                  !builtIn.contains(name) else {
                throw ValidationError("\(file): variants: \(name) should be a new name of letters, digits, - _ or . (it names the run's folder), not a method's")
            }
            guard let method = mapping["method"] as? String else {
                throw ValidationError("\(file): variants: \(name) needs method: (one of \(AdapterConfig.Method.allCases.map(\.rawValue).joined(separator: ", ")), optionally +reducer)")
            }
            self.method = method
            options = mapping.filter { $0.key != "method" }
        }
    }

    struct MethodResult: Codable {
        let method: String
        /// The arguments it trained with (nil for base, and in reports written before variants existed).
        let trainArguments: [String]?
        let training: RunSummary?
        let evaluation: [ChoiceResult]
        let average: TaskAverage
        let generation: [GenerationResult]?
        /// The change from `base` on the same items (paired), when the comparison has a base row.
        var gainOverBase: GainOverBase?
    }

    /// acc and acc_norm after − before per item, per task and on the tasks' average.
    struct GainOverBase: Codable {
        let acc: PairedDifference
        let accNorm: PairedDifference
        let tasks: [String: PairedDifference]

        init?(base: [ChoiceResult], method: [ChoiceResult]) {
            func paired(_ pick: (MultipleChoiceScore) -> [Bool]?) -> [PairedDifference]? {
                let differences = zip(base, method).compactMap { b, m in pick(b.score).flatMap { before in pick(m.score).flatMap { PairedDifference(before: before, after: $0) } } }
                return differences.count == base.count && base.count == method.count ? differences : nil
            }
            guard let acc = paired(\.correct), let norm = paired(\.correctNorm),
                  let average = PairedDifference(tasks: acc), let averageNorm = PairedDifference(tasks: norm) else { return nil }
            self.acc = average
            accNorm = averageNorm
            tasks = Dictionary(uniqueKeysWithValues: zip(base.map(\.task), acc))
        }
    }

    struct Report: Codable {
        let model: String, data: String, split: String, limit: Int, trainArguments: [String]
        /// nil in reports written before --use-best existed.
        let useBest: Bool?
        let methods: [MethodResult]
    }

    func setup() throws -> Setup {
        var s = Setup()
        if let config {
            let file = try ConfigFile.mapping(config)
            func string(_ key: String) throws -> String? {
                guard let value = file[key], !(value is NSNull) else { return nil }
                if let list = value as? [Any] { return list.map { "\($0)" }.joined(separator: ",") }
                guard !(value is [String: Any]) else { throw ValidationError("\(config): \(key) should be a value or a list") }
                return "\(value)"
            }
            let known: Set = ["model", "data", "methods", "tasks", "limit", "generate_limit", "split", "output", "compute_dtype", "base_storage",
                              "use_best", "train", "reducer", "variants"]
            if let unknown = file.keys.sorted().first(where: { !known.contains($0) }) {
                throw ValidationError("\(config): unknown key \(unknown); known: \(known.sorted().joined(separator: ", "))")
            }
            s.model = try string("model").map { ($0 as NSString).expandingTildeInPath } ?? s.model
            s.data = try string("data") ?? s.data
            s.methods = try string("methods")?.split(separator: ",").map(String.init) ?? s.methods
            s.tasks = try string("tasks") ?? s.tasks
            for (key, target) in [("limit", \Setup.limit), ("generate_limit", \Setup.generateLimit)] {
                guard let value = try string(key) else { continue }
                guard let n = Int(value) else { throw ValidationError("\(config): \(key) should be an integer") }
                s[keyPath: target] = n
            }
            s.split = try string("split") ?? s.split
            s.output = try string("output") ?? s.output
            if let value = try string("compute_dtype") {
                guard let choice = ComputePrecision.Choice(rawValue: value) else { throw ValidationError("\(config): compute_dtype should be f32, bf16 or auto") }
                s.computeDtype = choice
            }
            if let value = try string("base_storage") {
                guard let choice = BaseStorage.Choice(rawValue: value) else { throw ValidationError("\(config): base_storage should be quantized, dense or auto") }
                s.baseStorage = choice
            }
            if let value = try string("use_best") {
                guard let flag = Bool(value) else { throw ValidationError("\(config): use_best should be true or false") }
                s.useBest = flag
            }
            for (key, target) in [("train", \Setup.train), ("reducer", \Setup.reducer)] where file[key] != nil {
                guard let mapping = file[key] as? [String: Any] else { throw ValidationError("\(config): \(key) should be a mapping of train options") }
                s[keyPath: target] = mapping
            }
            if let value = file["variants"] {
                guard let mapping = value as? [String: Any] else { throw ValidationError("\(config): variants should be a mapping of names to {method: …, options}") }
                for (name, entry) in mapping {
                    guard let options = entry as? [String: Any] else { throw ValidationError("\(config): variants: \(name) should be a mapping of train options with method:") }
                    s.variants[name] = try Variant(name: name, mapping: options, file: config)
                }
            }
        }
        s.model = model ?? s.model
        s.data = data ?? s.data
        s.methods = methods?.split(separator: ",").map(String.init) ?? s.methods
        s.tasks = tasks ?? s.tasks
        s.limit = limit ?? s.limit
        s.generateLimit = generateLimit ?? s.generateLimit
        s.split = split ?? s.split
        s.output = output ?? s.output
        s.computeDtype = computeDtype ?? s.computeDtype
        s.baseStorage = baseStorage ?? s.baseStorage
        s.useBest = useBest ?? s.useBest
        if let iters { s.commandLine["iters"] = iters }
        return s
    }

    /// The `train` arguments of one method (nil for base), validated by train's own parser: the
    /// shared train options, then the reducer options for +reducer, then a variant's own, each
    /// replacing the ones before.
    static func trainArguments(_ method: String, setup s: Setup, dataFolder: String) throws -> [String]? {
        guard method != "base" else { return nil }
        let variant = s.variants[method]
        var parts = (variant?.method ?? method).split(separator: "+").map(String.init)
        let adapterMethod = parts.removeFirst()
        guard AdapterConfig.Method(rawValue: adapterMethod) != nil, parts.allSatisfy({ $0 == "reducer" }) else {
            let known = AdapterConfig.Method.allCases.map(\.rawValue).joined(separator: ", ")
            let variants = s.variants.isEmpty ? "" : "; variants: " + s.variants.keys.sorted().joined(separator: ", ")
            throw ValidationError(variant == nil ? "unknown method \(method): base, or one of \(known) with an optional +reducer\(variants)"
                                                 : "variant \(method): unknown method \(variant!.method): one of \(known) with an optional +reducer")
        }
        var options = s.train
        if !parts.isEmpty { options.merge(s.reducer) { $1 } }
        options.merge(variant?.options ?? [:]) { $1 }
        options.merge(s.commandLine) { $1 }
        for key in ["model", "data", "output", "method", "compute_dtype", "base_storage"] where options[key] != nil {
            throw ValidationError("\(variant == nil ? "train" : "variants: " + method): \(key) is set by compare itself; remove it from the train options")
        }
        var arguments = ["--model", s.model, "--data", dataFolder, "--output", (s.output as NSString).appendingPathComponent(method),
                         "--method", adapterMethod,
                         // resolved here, so that --reuse never takes a run trained in another precision
                         "--compute-dtype", ComputePrecision(s.computeDtype).rawValue, "--base-storage", s.baseStorage.rawValue]
        arguments += try ConfigFile.arguments(from: options, file: variant == nil ? "train options" : "variants: \(method)")
        do { _ = try Train.parse(arguments) } catch {
            throw ValidationError("\(method): its train options are not valid: \(Train.message(for: error))")
        }
        return arguments
    }

    func run() throws {
        let s = try setup()
        guard !s.methods.isEmpty, s.limit >= 0, s.generateLimit >= 0, ["test", "valid"].contains(s.split) else {
            throw ValidationError("give methods, limits ≥ 0 and split test or valid")
        }
        let dataFolder = FileManager.default.fileExists(atPath: s.data) ? s.data : TaskSuite.defaultDataDirectory + "/" + s.data
        let sources = try EvalSource.tasks([s.tasks], split: s.split, kind: "mc", data: TaskSuite.defaultDataDirectory, fewShot: false)
        let instructionSources = s.generateLimit == 0 ? [] :
            try EvalSource.tasks([s.tasks], split: s.split, kind: "instruct", data: TaskSuite.defaultDataDirectory, fewShot: false)
        let plans = try s.methods.map { ($0, try Self.trainArguments($0, setup: s, dataFolder: dataFolder)) }
        if s.useBest {
            // Checked before any training: the best adapter exists only where validation runs and is kept.
            let valid = (dataFolder as NSString).appendingPathComponent("valid.jsonl")
            guard FileManager.default.fileExists(atPath: valid) else { throw ValidationError("use_best: \(valid) does not exist, so no run keeps a best adapter") }
            if let arguments = plans.compactMap(\.1).first, try !Train.parse(arguments).keepBest {
                throw ValidationError("use_best: the train options turn keep_best off")
            }
        }
        if !json { try printBudget(s, dataFolder: dataFolder, sources: sources, plans: plans) }

        for case let (method, arguments?) in plans {
            let folder = (s.output as NSString).appendingPathComponent(method)
            // A run is reused only when it finished with the same train arguments.
            let argumentsFile = (folder as NSString).appendingPathComponent("compare-arguments.json")
            let recorded = FileManager.default.contents(atPath: argumentsFile).flatMap { try? JSONDecoder().decode([String].self, from: $0) }
            if reuse, recorded == arguments, (try? RunSummary.read(from: folder)) != nil {
                emit("\(method): reusing the finished run in \(folder)")
                continue
            }
            try? FileManager.default.removeItem(atPath: folder)
            emit("$ effilora train " + arguments.joined(separator: " "))
            try runSelf(["train"] + arguments)
            try writeAtomically(try JSONEncoder().encode(arguments), to: argumentsFile)
        }

        let precision = try PrecisionOptions.parse(["--compute-dtype", s.computeDtype.rawValue, "--base-storage", s.baseStorage.rawValue])
        let lm = try loadModel(s.model, adapters: try AdapterChoice.one(nil), precision: precision)
        let evaluator = SuiteEvaluator(model: lm, limit: s.limit, shots: 0)
        var results: [MethodResult] = []
        for (method, arguments) in plans {
            let folder = (s.output as NSString).appendingPathComponent(method)
            let adapterFolder = (folder as NSString).appendingPathComponent(s.useBest ? "adapter-best" : "adapter")
            if arguments != nil, s.useBest, !FileManager.default.fileExists(atPath: adapterFolder) {
                throw ValidationError("\(adapterFolder) does not exist: use_best needs validation data (valid.jsonl) and train's --keep-best")
            }
            lm.decoder.adapter = arguments == nil ? nil : try AdapterFile.load(from: adapterFolder, model: lm.decoder.config, weights: lm.decoder.weights)
            if !json { emit("evaluating \(method)\(s.useBest && arguments != nil ? " (adapter-best)" : "") on \(sources.map(\.name).joined(separator: ", "))") }
            let evaluation = try evaluator.choices(sources) { r in
                if !json { emit(String(format: "  %@: acc %@, acc_norm %@ (%d items, %.0f s)", r.task, withError(r.score.acc, r.score.accStderr),
                                       withError(r.score.accNorm, r.score.accNormStderr), r.score.count, r.seconds)) }
            }
            let generation = instructionSources.isEmpty ? nil
                : try SuiteEvaluator(model: lm, limit: s.generateLimit, shots: 0).generate(instructionSources, maxTokens: 16) { r in
                    if !json { emit(String(format: "  %@ (generate): acc %@, %d unanswered (%d items, %.0f s)", r.task,
                                           withError(r.score.acc, r.score.accStderr), r.score.unanswered, r.score.count, r.seconds)) }
                }
            results.append(MethodResult(method: method, trainArguments: arguments, training: arguments == nil ? nil : try RunSummary.read(from: folder),
                                        evaluation: evaluation, average: TaskAverage(evaluation.map(\.score)), generation: generation))
        }

        if let base = results.first(where: { $0.training == nil && $0.method == "base" }) {
            for i in results.indices where results[i].method != "base" {
                results[i].gainOverBase = GainOverBase(base: base.evaluation, method: results[i].evaluation)
            }
        }
        let report = Report(model: s.model, data: dataFolder, split: s.split, limit: s.limit,
                            trainArguments: try ConfigFile.arguments(from: s.train.merging(s.commandLine) { $1 }), useBest: s.useBest, methods: results)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try FileManager.default.createDirectory(atPath: s.output, withIntermediateDirectories: true)
        try writeAtomically(try encoder.encode(report), to: (s.output as NSString).appendingPathComponent("compare.json"))
        let markdown = Self.tables(results).map { $0.markdown() }.joined(separator: "\n\n") + "\n"
        try writeAtomically(Data(markdown.utf8), to: (s.output as NSString).appendingPathComponent("compare.md"))
        ReportCommand.writeAfterRun(s.output)
        if json { return try printJSON(report) }
        print("\n" + Self.tables(results).map { $0.text() }.joined(separator: "\n\n"))
        print("\ntables: \(s.output)/compare.md, \(s.output)/compare.json; adapters and logs: \(s.output)/METHOD/")
    }

    /// What the comparison will spend and how precise its accuracies can be, before it starts.
    private func printBudget(_ s: Setup, dataFolder: String, sources: [EvalSource], plans: [(String, [String]?)]) throws {
        emit("compare: \(s.methods.joined(separator: ", ")) on \(s.model)")
        if let arguments = plans.compactMap(\.1).first {
            let train = try Train.parse(arguments)
            let lines = (try? readJSONLines((dataFolder as NSString).appendingPathComponent("train.jsonl")).count) ?? 0
            let examples = train.iters * train.batchSize * train.gradAccumulation
            emit(String(format: "budget: %d steps × %d examples = %d examples of %@/train.jsonl (%d lines, %.2f epochs), rank %d, seed %llu",
                        train.iters, train.batchSize * train.gradAccumulation, examples, dataFolder, lines,
                        Double(examples) / Double(max(lines, 1)), train.adapter.effectiveRank, train.seed))
        }
        let counts = try sources.map { source in min(try readJSONLines(source.file).count, s.limit > 0 ? s.limit : .max) }
        let smallest = counts.min() ?? 0
        // The standard error of an accuracy p over n items, √(p(1−p)/(n−1)), is at most 0.5/√(n−1).
        let worst = 0.5 / Double(max(smallest - 1, 1)).squareRoot()
        emit(String(format: "evaluation: %@ split, %d items over %d tasks (%@); standard error ≤ %.3f per task, ≤ %.3f on the average",
                    s.split, counts.reduce(0, +), counts.count, zip(sources, counts).map { "\($0.name) \($1)" }.joined(separator: ", "),
                    worst, worst / Double(max(counts.count, 1)).squareRoot()))
    }

    private static func tables(_ results: [MethodResult]) -> [Table] {
        var training = Table(["method", "trainable", "× LoRA", "tok/s", "peak MiB", "train s", "val loss", "best (step)"])
        for r in results {
            guard let t = r.training else { training.add([r.method, "0", "–", "–", "–", "–", "–", "–"]); continue }
            let loss = t.finalValidationLoss.map { final in
                t.initialValidationLoss.map { String(format: "%.3f → %.3f", $0, final) } ?? String(format: "%.3f", final)
            } ?? "–"
            training.add([r.method, "\(t.parameters.trainable)", String(format: "%.3f", t.parameters.ratioToLoRA),
                          String(format: "%.0f", t.tokensPerSecond), String(format: "%.0f", t.peakResidentMiB),
                          String(format: "%.0f", t.wallSeconds), loss,
                          t.bestValidationLoss.map { String(format: "%.3f (%d)", $0, t.bestStep ?? 0) } ?? "–"])
        }
        var tables = [training]
        for (metric, pick) in [("acc", { (s: MultipleChoiceScore) in (s.acc, s.accStderr) }), ("acc_norm", { ($0.accNorm, $0.accNormStderr) })] {
            var table = Table(["\(metric)", "items"] + results.map(\.method))
            for (i, task) in (results.first?.evaluation ?? []).enumerated() {
                table.add([task.task, "\(task.score.count)"] + results.map { r in let (v, e) = pick(r.evaluation[i].score); return withError(v, e) })
            }
            table.add(["average", ""] + results.map { metric == "acc" ? withError($0.average.acc, $0.average.accStderr)
                                                                      : withError($0.average.accNorm, $0.average.accNormStderr) })
            tables.append(table)
        }
        if results.contains(where: { $0.gainOverBase != nil }) {
            var gains = Table(["vs base (same items)", "Δ acc ± paired se", "z", "items gained / lost", "Δ acc_norm ± paired se"])
            for r in results {
                guard let g = r.gainOverBase else { continue }
                gains.add([r.method, String(format: "%+.4f ± %.4f", g.acc.gain, g.acc.stderr), String(format: "%.1f", g.acc.zScore),
                           "\(g.acc.gained) / \(g.acc.lost)", String(format: "%+.4f ± %.4f", g.accNorm.gain, g.accNorm.stderr)])
            }
            tables.append(gains)
        }
        if let first = results.first?.generation {
            var table = Table(["generate", "items"] + results.map(\.method))
            for (i, task) in first.enumerated() {
                table.add([task.task, "\(task.score.count)"] + results.map { r in
                    r.generation.map { withError($0[i].score.acc, $0[i].score.accStderr) + " (\($0[i].score.unanswered) ?)" } ?? "–"
                })
            }
            table.add(["average", ""] + results.map { r in
                guard let g = r.generation else { return "–" }
                let average = TaskAverage.mean(g.map { ($0.score.acc, $0.score.accStderr) })
                return withError(average.value, average.stderr)
            })
            tables.append(table)
        }
        return tables
    }
}

/// Runs this executable with `arguments` (another subcommand) and waits; its output goes where ours does.
func runSelf(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0])
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ValidationError("effilora \(arguments.first ?? "") exited with status \(process.terminationStatus)")
    }
}

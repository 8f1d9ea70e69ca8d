import ArgumentParser
import Foundation
import EffiCore

@main
struct EffiLoRA: ParsableCommand {
    static func main() {
        BLASCore.reexecIfNeeded()
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "train" {
            do { arguments = ["train"] + (try ConfigFile.expand(Array(arguments.dropFirst()))) } catch { exit(withError: error) }
        }
        main(arguments)
    }

    static let configuration = CommandConfiguration(
        commandName: "effilora",
        abstract: "Fine-tune language models on the CPU with EffiLoRA, LoRA and their variants.",
        subcommands: [Info.self, Tokenize.self, Generate.self, Score.self, Train.self, Eval.self, Compare.self, Params.self, Importance.self, Analyze.self, ReportCommand.self,
                      Export.self, Import.self, Fuse.self, Bench.self, SystemInfo.self]
    )
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the machine: products, kernels (JSON for the results table).",
        subcommands: [BenchKernels.self, BenchForward.self, BenchGenerate.self, BenchTrain.self]
    )
}

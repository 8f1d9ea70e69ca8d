import ArgumentParser
import EffiCore
import Foundation

struct SystemInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Show the cores, the product libraries, the kernels they run, and whether the CPU has native bf16.")

    @Flag(help: "Print only the OpenBLAS kernel family in use (for OPENBLAS_CORETYPE).")
    var blasCore = false

    func run() {
        if blasCore {
            print(BLAS.coreName)
            return
        }
        print("cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        print("BLAS: \(BLAS.description)")
        print("BLAS threads: \(BLAS.threads)")
        print("OPENBLAS_CORETYPE: \(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
        print("element-wise threads: \(Parallel.maxThreads)")
        let flags = BLASCore.cpuFlags().filter { $0.hasPrefix("avx512_bf16") || $0.hasPrefix("amx") }.sorted()
        print("native bf16: \(ComputePrecision.nativeBFloat16() ? "yes" : "no") (\(flags.isEmpty ? "no avx512_bf16 / amx_bf16 flag" : flags.joined(separator: " ")))")
        print("oneDNN: \(OneDNN.version), \(OneDNN.isa) kernels, \(OneDNN.threads) threads")
        print("--compute-dtype auto: \(ComputePrecision(.auto).rawValue)")
    }
}

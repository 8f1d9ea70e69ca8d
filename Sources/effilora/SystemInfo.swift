import ArgumentParser
import EffiCore
import Foundation

struct SystemInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Show the cores, the BLAS library and the kernel family it runs.")

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
    }
}

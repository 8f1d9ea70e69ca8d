import ArgumentParser
import EffiCore
import Foundation

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Matrix-product GFLOP/s and element-wise kernel times at SmolLM2-135M's shapes.",
        discussion: "Every figure is the median of repeated calls on warm caches. Element-wise kernels run on one thread and on --threads.")

    @Option(help: "BLAS and element-wise threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Tokens per step (T).")
    var tokens: Int = 1024

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    struct Report: Encodable {
        let benchmark = "kernels"
        let blas: String
        let threads: Int
        let tokens: Int
        let method = "median of repeated calls, warm cache"
        let largeShapeMedianGFLOPS: Double
        let adapterR8MinimumGFLOPS: Double
        let products: [KernelSuite.Product]
        let kernels: [KernelSuite.Kernel]
    }

    func run() throws {
        BLAS.setThreads(threads)
        let suite = KernelSuite(tokens: tokens)
        let products = suite.measureProducts()
        var kernels = suite.measureKernels(threads: 1)
        if threads > 1 { kernels += suite.measureKernels(threads: threads) }
        let large = products.filter { $0.group == "forward" || $0.group == "input-gradient" }.map(\.gflops)
        let r8 = products.filter { $0.group == "adapter-r8" }.map(\.gflops)
        let report = Report(blas: BLAS.description, threads: threads, tokens: tokens,
                            largeShapeMedianGFLOPS: median(large), adapterR8MinimumGFLOPS: r8.min() ?? 0,
                            products: products, kernels: kernels)
        if json {
            try printJSON(report)
        } else {
            printTable(report)
        }
    }

    private func printTable(_ r: Report) {
        print("BLAS: \(r.blas); \(r.threads) threads; T = \(r.tokens); \(r.method)")
        print(pad("group", 16) + pad("product", 16) + pad("op", 4) + pad("M×N×K", 20) + pad("ms", 10) + "GFLOP/s")
        for p in r.products {
            print(pad(p.group, 16) + pad(p.name, 16) + pad(p.op, 4) + pad("\(p.m)×\(p.n)×\(p.k)", 20)
                  + pad(String(format: "%.3f", p.milliseconds), 10) + String(format: "%.1f", p.gflops))
        }
        print(String(format: "large-shape median: %.1f GFLOP/s; rank-8 adapter minimum: %.1f GFLOP/s",
                     r.largeShapeMedianGFLOPS, r.adapterR8MinimumGFLOPS))
        print(pad("kernel", 26) + pad("shape", 20) + pad("threads", 9) + "ms")
        for k in r.kernels {
            print(pad(k.name, 26) + pad(k.shape.map(String.init).joined(separator: "×"), 20) + pad("\(k.threads)", 9)
                  + String(format: "%.3f", k.milliseconds))
        }
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}

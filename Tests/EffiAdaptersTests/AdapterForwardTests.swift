import XCTest
import Foundation
import EffiCore
@testable import EffiModel
@testable import EffiAdapters

/// Each method's forward against its formula computed token by token with plain loops.
final class AdapterForwardTests: XCTestCase {
    let model = ModelConfig(layers: 1, modelWidth: 8, ffnWidth: 12, heads: 2, kvHeads: 1, vocabulary: 20)

    func randomized(_ configure: (inout AdapterConfig) -> Void) throws -> Adapters {
        var c = AdapterConfig()
        c.rank = 3; c.alpha = 6; c.targets = [.q, .k]
        configure(&c)
        let a = try Adapters(config: c, model: model)
        var rng = SplitMix64(seed: 4)
        for p in a.parameters { for i in 0..<p.value.count { p.value[i] = rng.nextFloat(in: -1...1) } }
        return a
    }

    func matvec(_ m: Tensor, _ x: [Float]) -> [Float] {
        (0..<m.rows).map { i in (0..<m.columns).reduce(Float(0)) { $0 + m[i * m.columns + $1] * x[$1] } }
    }

    /// Runs the adapters' forward on zero outputs and checks every token against `expected(site, x_t)`.
    func check(_ a: Adapters, expected: (Site, [Float]) -> [Float], file: StaticString = #filePath, line: UInt = #line) {
        let n = 5, x = Tensor(shape: [n, 8])
        var rng = SplitMix64(seed: 8)
        for i in 0..<x.count { x[i] = rng.nextFloat(in: -1...1) }
        let q = Tensor(shape: [n, 8]), k = Tensor(shape: [n, 4])
        a.forward(layer: 0, input: .attention, x: x, outputs: [.q: q, .k: k], rows: TokenRows(sequences: 1, keyMask: nil))
        for (site, y) in [(Site.q, q), (.k, k)] {
            for t in 0..<n {
                let want = expected(site, Array(x.array[t * 8..<(t + 1) * 8]))
                for j in 0..<y.columns { XCTAssertEqual(y[t * y.columns + j], want[j], accuracy: 1e-5, "\(site) token \(t)", file: file, line: line) }
            }
        }
    }

    func testSharedAWithSoftAndTopKRouters() throws {
        for (kind, topK) in [(AdapterConfig.RouterKind.soft, 1), (.topk, 2)] {
            let a = try randomized { $0.method = .effilora; $0.experts = 3; $0.router = kind; $0.topK = topK }
            let A = a.parameter(named: "A.model_width")!.value, R = a.parameter(named: "layers.0.router.attention")!.value
            check(a) { site, x in
                let u = self.matvec(A, x)
                var z = self.matvec(R, x)
                let keep = Set((0..<3).sorted { z[$0] > z[$1] }.prefix(kind == .topk ? topK : 3))
                let m = z.indices.filter(keep.contains).map { z[$0] }.max()!
                for e in 0..<3 { z[e] = keep.contains(e) ? exp(z[e] - m) : 0 }
                let w = z.map { $0 / z.reduce(0, +) }
                var y = [Float](repeating: 0, count: site.outputWidth(self.model))
                for e in 0..<3 {
                    let b = self.matvec(a.parameter(named: "layers.0.\(site.rawValue).B.\(e)")!.value, u)
                    for j in y.indices { y[j] += 2 * w[e] * b[j] }
                }
                return y
            }
        }
    }

    func testVeRA() throws {
        let a = try randomized { $0.method = .vera }
        check(a) { site, x in
            let u = self.matvec(a.parameter(named: "vera.A.8")!.value, x)
            let d = a.parameter(named: "layers.0.\(site.rawValue).vera_d")!.value, b = a.parameter(named: "layers.0.\(site.rawValue).vera_b")!.value
            let B = a.parameter(named: "vera.B.\(site.outputWidth(self.model))")!.value
            let p = self.matvec(B, u.indices.map { u[$0] * d[$0] })
            return p.indices.map { b[$0] * p[$0] }
        }
    }

    func testLoRAAndHydraLoRA() throws {
        let lora = try randomized { $0.method = .lora; $0.rslora = true }
        check(lora) { site, x in
            let u = self.matvec(lora.parameter(named: "layers.0.\(site.rawValue).A")!.value, x)
            return self.matvec(lora.parameter(named: "layers.0.\(site.rawValue).B")!.value, u).map { $0 * 6 / Float(3).squareRoot() }
        }
        let hydra = try randomized { $0.method = .hydralora; $0.experts = 2 }
        check(hydra) { site, x in
            let u = self.matvec(hydra.parameter(named: "layers.0.\(site.rawValue).A")!.value, x)
            let z = self.matvec(hydra.parameter(named: "layers.0.\(site.rawValue).router")!.value, x)
            let w = [Float(1 / (1 + exp(z[1] - z[0]))), Float(1 / (1 + exp(z[0] - z[1])))]
            var y = [Float](repeating: 0, count: site.outputWidth(self.model))
            for e in 0..<2 {
                let b = self.matvec(hydra.parameter(named: "layers.0.\(site.rawValue).B.\(e)")!.value, u)
                for j in y.indices { y[j] += 2 * w[e] * b[j] }
            }
            return y
        }
    }
}

import XCTest
import EffiCore
@testable import EffiModel
@testable import EffiAdapters

/// The Grassmann similarity on subspaces whose answer is known: identical → 1, orthogonal → 0,
/// random k-dimensional subspaces of R^d → k / d on average; and per layer on a LoRA adapter.
final class SubspaceSimilarityTests: XCTestCase {
    func gaussian(_ rows: Int, _ columns: Int, _ rng: inout SplitMix64) -> [[Double]] {
        (0..<rows).map { _ in (0..<columns).map { _ in Double(rng.nextGaussian()) } }
    }

    func testKnownSubspaces() {
        var rng = SplitMix64(seed: 7)
        let v = gaussian(4, 32, &rng)
        let u = SubspaceSimilarity.orthonormalBasis(v)
        XCTAssertEqual(u.count, 4)
        // The same span from another basis of it (mixtures of the rows): similarity 1.
        let weights: [[Double]] = [[1, 1, 0, 0], [2, 1, -1, 1], [3, 1, -2, 4], [4, 1, -3, 9]]
        let mixed = weights.map { w in (0..<32).map { j in (0..<4).reduce(0.0) { $0 + w[$1] * v[$1][j] } } }
        XCTAssertEqual(SubspaceSimilarity.grassmann(u, SubspaceSimilarity.orthonormalBasis(mixed)), 1, accuracy: 1e-9)
        // Coordinate subspaces on disjoint axes: 0; sharing one axis of two: 1/2.
        func axes(_ indices: [Int]) -> [[Double]] { indices.map { i in (0..<32).map { $0 == i ? 1.0 : 0.0 } } }
        XCTAssertEqual(SubspaceSimilarity.grassmann(axes([0, 1]), axes([2, 3])), 0)
        XCTAssertEqual(SubspaceSimilarity.grassmann(axes([0, 1]), axes([1, 5])), 0.5, accuracy: 1e-12)
        // A dependent row adds nothing to the basis.
        XCTAssertEqual(SubspaceSimilarity.orthonormalBasis([v[0], v[1], v[0].map { 2 * $0 }]).count, 2)
        // Random 4-dimensional subspaces of R^64: mean similarity k / d = 0.0625 (over 190 pairs).
        let bases = (0..<20).map { _ in SubspaceSimilarity.orthonormalBasis(gaussian(4, 64, &rng)) }
        let mean = SubspaceSimilarity.meanOffDiagonal(SubspaceSimilarity.matrix(bases))
        XCTAssertEqual(mean, 4.0 / 64, accuracy: 0.1 * 4.0 / 64)
    }

    /// A LoRA adapter whose layers' A's are set by hand: q's A spans the same rows in layers 0 and 1
    /// and orthogonal rows in layer 2; A − A0 and B follow from what was set.
    func testLayerSimilaritiesOfAnAdapter() throws {
        let model = ModelConfig(layers: 3, modelWidth: 16, ffnWidth: 24, heads: 4, kvHeads: 2, vocabulary: 50)
        var c = AdapterConfig()
        c.method = .lora; c.rank = 2; c.targets = [.q]; c.seed = 1
        let initial = try Adapters(config: c, model: model), trained = try Adapters(config: c, model: model)
        func set(_ key: ParameterKey, rows: [[Float]]) {
            let t = trained.parameter(key)!.value
            for (r, row) in rows.enumerated() { for (j, x) in row.enumerated() { t.data[r * t.columns + j] = x } }
        }
        func axis(_ i: Int, _ n: Int = 16) -> [Float] { (0..<n).map { $0 == i ? 1 : 0 } }
        set(.site(layer: 0, site: .q, role: .a), rows: [axis(0), axis(1)])
        set(.site(layer: 1, site: .q, role: .a), rows: [zip(axis(0), axis(1)).map { $0 + $1 }, zip(axis(0), axis(1)).map { $0 - $1 }])
        set(.site(layer: 2, site: .q, role: .a), rows: [axis(2), axis(3)])
        let result = trained.layerSimilarities(initial: initial)
        let a = try XCTUnwrap(result.first { $0.site == "q" && $0.quantity == "A" })
        XCTAssertEqual(a.layers, [0, 1, 2])
        XCTAssertEqual(a.values[0][1], 1, accuracy: 1e-9)
        XCTAssertEqual(a.values[0][2], 0, accuracy: 1e-12)
        XCTAssertEqual(a.values[1][2], 0, accuracy: 1e-12)
        XCTAssertEqual(a.meanOffDiagonal, 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(a.randomBaseline, 2.0 / 16)
        // A − A0 against an independent computation from the two adapters' values.
        let change = try XCTUnwrap(result.first { $0.site == "q" && $0.quantity == "A - A0" })
        let deltas = (0..<3).map { l -> [[Double]] in
            let t = trained.parameter(.site(layer: l, site: .q, role: .a))!.value.array, t0 = initial.parameter(.site(layer: l, site: .q, role: .a))!.value.array
            return (0..<2).map { r in (0..<16).map { Double(t[r * 16 + $0]) - Double(t0[r * 16 + $0]) } }
        }
        let expected = SubspaceSimilarity.grassmann(SubspaceSimilarity.orthonormalBasis(deltas[0]), SubspaceSimilarity.orthonormalBasis(deltas[2]))
        XCTAssertEqual(change.values[0][2], expected, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(a.meanAdjacent), 0.5, accuracy: 1e-9, "pairs 0–1 (1) and 1–2 (0)")
        // B still at zero (LoRA's start) spans nothing: no B matrix.
        XCTAssertNil(result.first { $0.site == "q" && $0.quantity == "B" })
        // Ranks that differ: the baseline is the mean over pairs of max(k_i, k_j) / d.
        set(.site(layer: 2, site: .q, role: .a), rows: [axis(2), axis(2)])
        let mixed = try XCTUnwrap(trained.layerSimilarities(initial: nil).first { $0.quantity == "A" })
        XCTAssertEqual(mixed.randomBaseline, 2.0 / 16, accuracy: 1e-12)
        XCTAssertEqual(mixed.values[0][2], 0, accuracy: 1e-12)
    }

    /// `sameInitialA`: every layer's A at a site starts from one matrix (A0 similarity 1 between
    /// layers); by default each layer draws its own (A0 similarity near random), and B's and other
    /// sites are untouched.
    func testSameInitialA() throws {
        let model = ModelConfig(layers: 3, modelWidth: 32, ffnWidth: 48, heads: 4, kvHeads: 2, vocabulary: 50)
        var c = AdapterConfig()
        c.method = .lora; c.rank = 2; c.targets = [.q, .down]; c.seed = 5
        let own = try Adapters(config: c, model: model)
        c.sameInitialA = true
        let same = try Adapters(config: c, model: model)
        let a = { (adapters: Adapters, layer: Int, site: Site) in adapters.parameter(.site(layer: layer, site: site, role: .a))!.value.array }
        XCTAssertEqual(a(same, 0, .q), a(same, 2, .q))
        XCTAssertEqual(a(same, 1, .down), a(same, 2, .down))
        XCTAssertNotEqual(a(same, 0, .q), a(same, 0, .down).prefix(64).map { $0 }, "sites keep their own streams")
        XCTAssertNotEqual(a(own, 0, .q), a(own, 1, .q))
        let sameA0 = try XCTUnwrap(same.layerSimilarities(initial: same).first { $0.site == "q" && $0.quantity == "A0" })
        XCTAssertEqual(sameA0.meanOffDiagonal, 1, accuracy: 1e-9)
        let ownA0 = try XCTUnwrap(own.layerSimilarities(initial: own).first { $0.site == "q" && $0.quantity == "A0" })
        XCTAssertLessThan(ownA0.meanOffDiagonal, 0.5)
        // A method without a per-layer A refuses the option rather than ignoring it.
        c.method = .effilora
        XCTAssertThrowsError(try Adapters(config: c, model: model)) { XCTAssertTrue("\($0)".contains("has no per-layer A"), "\($0)") }
        c.share = .none
        XCTAssertNoThrow(try Adapters(config: c, model: model))
        // A that has not moved: ‖A − A0‖ = 0 and no directions to compare.
        XCTAssertNil(own.layerSimilarities(initial: own).first { $0.quantity == "A - A0" })
    }
}

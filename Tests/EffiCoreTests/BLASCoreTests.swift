import XCTest
@testable import EffiCore

final class BLASCoreTests: XCTestCase {
    func testRecommendsOnlyWhenOpenBLASFellBack() {
        let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl"]
        XCTAssertEqual(BLASCore.recommended(cpuFlags: avx512, current: "Prescott", environment: nil), "SkylakeX")
        XCTAssertEqual(BLASCore.recommended(cpuFlags: ["avx2", "fma"], current: "Prescott", environment: nil), "Haswell")
        XCTAssertNil(BLASCore.recommended(cpuFlags: ["sse3"], current: "Prescott", environment: nil))
        XCTAssertNil(BLASCore.recommended(cpuFlags: avx512, current: "Zen", environment: nil), "detected itself")
        XCTAssertNil(BLASCore.recommended(cpuFlags: avx512, current: "Prescott", environment: "Haswell"), "user's choice")
    }
}

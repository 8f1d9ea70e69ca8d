import XCTest
import Foundation
@testable import EffiCore

final class ExpTests: XCTestCase {
    func testVectorExpAgainstLibm() {
        var worst = 0.0
        var x: Float = -87
        while x < 88.3 {
            let v = exp8(F8(x, x + 0.01, x + 0.02, x + 0.03, x + 0.04, x + 0.05, x + 0.06, x + 0.07))
            for lane in 0..<8 {
                let xs = Double(x + 0.01 * Float(lane))
                let e = Foundation.exp(Double(Float(xs)))
                worst = max(worst, abs(Double(v[lane]) - e) / e)
            }
            x += 0.37
        }
        XCTAssertLessThan(worst, 4e-7, "relative error of exp8")
    }

    func testLimits() {
        let v = exp8(F8(-.infinity, -1000, -88, 0, 88.5, 1000, .infinity, 1))
        XCTAssertEqual(v[0], 0)
        XCTAssertEqual(v[1], 0)
        XCTAssertEqual(v[2], 0)
        XCTAssertEqual(v[3], 1)
        XCTAssertEqual(v[4], .infinity)
        XCTAssertEqual(v[5], .infinity)
        XCTAssertEqual(v[6], .infinity)
        XCTAssertEqual(Double(v[7]), M_E, accuracy: 1e-6)
    }
}

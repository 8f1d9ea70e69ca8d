import EffiFormats
import Foundation
import XCTest

/// Config YAML read by the core schema from the composed nodes (not Yams' constructor, which traps
/// on some inputs), with merge keys, and with duplicate keys and unbounded aliases refused.
final class YAMLFileTests: XCTestCase {
    func testValuesByTheCoreSchema() throws {
        let m = try parseYAMLMapping("""
            rank: 8
            big: 0x10
            rate: 1.0e-3
            flag: true
            word: off
            quoted: "5"
            nothing:
            list: [q, v]
            """, path: "c.yaml")
        XCTAssertEqual(m["rank"] as? Int, 8)
        XCTAssertEqual(m["big"] as? Int, 16)
        XCTAssertEqual(m["rate"] as? Double, 1e-3)
        XCTAssertEqual(m["flag"] as? Bool, true)
        XCTAssertEqual(m["word"] as? String, "off", "YAML 1.2: off is a word, not false")
        XCTAssertEqual(m["quoted"] as? String, "5")
        XCTAssertTrue(m["nothing"] is NSNull)
        XCTAssertEqual(m["list"] as? [String], ["q", "v"])
    }

    func testMergeKeysAddWhatAMappingDoesNotSet() throws {
        let m = try parseYAMLMapping("""
            base: &base {rank: 8, alpha: 16}
            wide:
              <<: *base
              rank: 32
            """, path: "c.yaml")
        let wide = try XCTUnwrap(m["wide"] as? [String: Any])
        XCTAssertEqual(wide["rank"] as? Int, 32, "the mapping's own value wins")
        XCTAssertEqual(wide["alpha"] as? Int, 16, "the merged one fills in")
    }

    func testRefusals() {
        for (text, expected) in [("a: 1\na: 2\n", "c.yaml:2: key a appears twice"),
                                 ("[a, b]: 1\n", "c.yaml:1: a key in the top level is not a plain name"),
                                 ("a: 99999999999:59:59:59:59:59:59:59:59\n", "is not an integer that fits in 64 bits"),
                                 ("- a\n- b\n", "expected a mapping of option names to values"),
                                 ("a: <<: 1\n", "not valid YAML")] {
            XCTAssertThrowsError(try parseYAMLMapping(text, path: "c.yaml"), text) {
                XCTAssertTrue("\($0)".contains(expected), "\(text): \($0)")
            }
        }
    }
}

import XCTest
import Foundation
@testable import EffiFormats

/// The SmolLM2-135M file that setup fetches, against the summary that llama.cpp's own Python
/// reader (`gguf`) wrote (scripts/reference_gguf_summary.py → Fixtures/).
final class RealModelGGUFTests: XCTestCase {
    func testMatchesTheGGUFPackageSummary() throws {
        let path = try smolLM2Path()
        let g = try GGUFFile(path: path)
        let fixture = Bundle.module.url(forResource: "smollm2-135m-q4_1.summary", withExtension: "json", subdirectory: "Fixtures")!
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as! [String: Any]
        let tensors = summary["tensors"] as! [[String: Any]]
        XCTAssertEqual(g.tensors.count, tensors.count)
        for (ours, theirs) in zip(g.tensors, tensors) {
            XCTAssertEqual(ours.name, theirs["name"] as? String)
            XCTAssertEqual(ours.type.name, theirs["type"] as? String, ours.name)
            XCTAssertEqual(ours.dimensions, theirs["dimensions"] as? [Int], ours.name)
            XCTAssertEqual(ours.fileOffset, theirs["file_offset"] as? Int, ours.name)
            XCTAssertEqual(ours.byteCount, theirs["bytes"] as? Int, ours.name)
        }
        let metadata = summary["metadata"] as! [String: Any]
        for (key, value) in metadata {
            let ours = try XCTUnwrap(g.metadata[key], key)
            if case .bool(let b) = ours {
                XCTAssertEqual(b, (value as? NSNumber)?.boolValue, key)
                continue
            }
            switch value {
            case let s as String: XCTAssertEqual(ours.string, s, key)
            case let d as [String: Int]: XCTAssertEqual(ours.array?.count, d["array_length"], key)
            case let n as NSNumber: XCTAssertEqual(ours.double, n.doubleValue, key)
            default: XCTFail("unexpected fixture value for \(key)")
            }
        }
    }
}

/// The pinned SmolLM2-135M-Instruct Q4_1 file in the cache (`scripts/setup.sh` fetches it).
func smolLM2Path() throws -> String {
    let path = PinnedFiles.smolLM2
    guard FileManager.default.fileExists(atPath: path) else {
        XCTFail("\(path) is missing: run scripts/setup.sh (make test does)")
        throw FormatError(path, "missing")
    }
    return path
}

import EffiFormats
import Foundation
import XCTest

/// `OutputFolder.replace`: the folder is replaced whole, or left as it was when writing fails.
final class OutputFolderTests: XCTestCase {
    func testAFailedWriteLeavesThePreviousContent() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-output-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        try OutputFolder.replace(folder) { try Data("first".utf8).write(to: URL(fileURLWithPath: $0 + "/a")) }
        struct Failure: Error {}
        XCTAssertThrowsError(try OutputFolder.replace(folder) { partial in
            try Data("second".utf8).write(to: URL(fileURLWithPath: partial + "/a"))
            throw Failure()
        })
        XCTAssertEqual(try String(contentsOfFile: folder + "/a", encoding: .utf8), "first")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + ".partial"))
        try OutputFolder.replace(folder) { try Data("third".utf8).write(to: URL(fileURLWithPath: $0 + "/b")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["b"], "replaced whole: the old file is gone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + ".old"))
    }

    func testOverlapIsFoundByIdentity() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-overlap-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/input/inner", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: base + "/link", withDestinationPath: base + "/input")
        XCTAssertThrowsError(try OutputFolder.refuseOverlap(output: base + "/link", input: base + "/input"))
        XCTAssertThrowsError(try OutputFolder.refuseOverlap(output: base + "/input", input: base + "/input/inner"), "a folder holding the input")
        XCTAssertNoThrow(try OutputFolder.refuseOverlap(output: base + "/new", input: base + "/input"))
        XCTAssertNoThrow(try OutputFolder.refuseOverlap(output: base + "/input/inner", input: base + "/input"), "inside the input: the input is not replaced")
    }
}

import EffiFormats
import Foundation
import XCTest

/// `OutputFolder.replace`: the folder is replaced whole, or left as it was when writing fails; a
/// folder of other files is never replaced; `refuseOverlap` finds the input by identity.
final class OutputFolderTests: XCTestCase {
    func temporary() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("effilora-output-\(UUID().uuidString)").path
        addTeardownBlock {
            for suffix in ["", ".effilora-partial", ".effilora-old", ".old"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        return path
    }

    func testAFailedWriteLeavesThePreviousContent() throws {
        let folder = temporary()
        try OutputFolder.replace(folder, marker: "m") { try Data("first".utf8).write(to: URL(fileURLWithPath: $0 + "/m")) }
        struct Failure: Error {}
        XCTAssertThrowsError(try OutputFolder.replace(folder, marker: "m") { partial in
            try Data("second".utf8).write(to: URL(fileURLWithPath: partial + "/m"))
            throw Failure()
        })
        XCTAssertEqual(try String(contentsOfFile: folder + "/m", encoding: .utf8), "first")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + ".effilora-partial"))
        // A trailing slash (what tab completion gives) names the same folder.
        try OutputFolder.replace(folder + "/", marker: "m") { try Data("third".utf8).write(to: URL(fileURLWithPath: $0 + "/m")) }
        XCTAssertEqual(try String(contentsOfFile: folder + "/m", encoding: .utf8), "third", "replaced whole")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + ".effilora-old"))
    }

    func testAFolderOfOtherFilesIsNeverReplaced() throws {
        let folder = temporary()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        XCTAssertThrowsError(try OutputFolder.replace(folder, marker: "m") { _ in XCTFail("not reached") }) {
            XCTAssertTrue("\($0)".contains("holds other files than an earlier output (no m)"), "\($0)")
        }
        XCTAssertEqual(try String(contentsOfFile: folder + "/notes.txt", encoding: .utf8), "keep")
        // A user's own NAME.old beside an absent NAME is not taken for an interrupted swap.
        let other = temporary()
        try FileManager.default.createDirectory(atPath: other + ".old", withIntermediateDirectories: true)
        try OutputFolder.replace(other, marker: "m") { try Data().write(to: URL(fileURLWithPath: $0 + "/m")) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: other + ".old"))
    }

    func testOverlapIsFoundByIdentity() throws {
        let base = temporary()
        try FileManager.default.createDirectory(atPath: base + "/input/inner", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: base + "/link", withDestinationPath: base + "/input")
        XCTAssertThrowsError(try OutputFolder.refuseOverlap(output: base + "/link", input: base + "/input"))
        XCTAssertThrowsError(try OutputFolder.refuseOverlap(output: base + "/input", input: base + "/input/inner"), "a folder holding the input")
        XCTAssertThrowsError(try OutputFolder.refuseOverlap(output: base + "/input", input: base + "/link/inner"), "the input reached through a link")
        XCTAssertNoThrow(try OutputFolder.refuseOverlap(output: base + "/new", input: base + "/input"))
        XCTAssertNoThrow(try OutputFolder.refuseOverlap(output: base + "/input/inner", input: base + "/input"), "inside the input: the input is not replaced")
    }
}

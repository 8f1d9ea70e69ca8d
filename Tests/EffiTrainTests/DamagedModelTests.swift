import EffiFormats
import EffiTestSupport
import Foundation
import XCTest

/// Commands given a damaged model file: `info` still lists what the file holds, then refuses it
/// with the key at fault (it used to exit 0 on metadata that crashes every other command).
final class DamagedModelTests: XCTestCase {
    func testInfoListsADamagedFileAndRefusesIt() throws {
        try EffiLoRAExecutable.require()
        var model = TinyGGUFModel()
        model.editMetadata = { $0.replace("llama.attention.head_count", type: 4, value: GGUFBuilder.u32(0)) }
        let path = try model.write(seed: 5)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        let run = try EffiLoRAExecutable.run(["info", "--model", path])
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("heads: 0"), "the listing comes first: \(run.output)")
        XCTAssertTrue(run.output.contains("\(path): llama.attention.head_count is 0, expected 1…1024"), run.output)

        let intact = try TinyGGUFModel().write(seed: 5)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: intact) }
        let good = try EffiLoRAExecutable.run(["info", "--model", intact])
        XCTAssertEqual(good.status, 0, good.output)
    }
}

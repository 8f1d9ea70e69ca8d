import Foundation

/// The top-level object of a JSON file (config.json, tokenizer.json, …), or an error naming the
/// file and what was wrong.
public func readJSONObject(_ path: String) throws -> [String: Any] {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw FormatError(path, "cannot read: \(error.localizedDescription)")
    }
    let parsed: Any
    do {
        parsed = try JSONSerialization.jsonObject(with: data)
    } catch {
        throw FormatError(path, "not valid JSON")
    }
    guard let object = parsed as? [String: Any] else { throw FormatError(path, "expected a JSON object at the top level") }
    return object
}

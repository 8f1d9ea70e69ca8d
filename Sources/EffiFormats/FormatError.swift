/// A file that is not what it claims to be: names the file, where, and what was expected.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let detail: String

    public init(_ path: String, _ detail: String) {
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}

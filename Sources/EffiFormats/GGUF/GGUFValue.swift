/// A GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var int: Int? {
        switch self {
        case .uint(let v): Int(exactly: v)
        case .int(let v): Int(exactly: v)
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .float(let v): v
        case .uint(let v): Double(v)
        case .int(let v): Double(v)
        default: nil
        }
    }

    public var string: String? {
        if case .string(let s) = self { s } else { nil }
    }

    public var array: [GGUFValue]? {
        if case .array(let a) = self { a } else { nil }
    }

    /// A short rendering for listings: long arrays are summarised by their length.
    public var summary: String {
        switch self {
        case .uint(let v): "\(v)"
        case .int(let v): "\(v)"
        case .float(let v): "\(v)"
        case .bool(let v): "\(v)"
        case .string(let s): s.count > 60 ? "\"\(s.prefix(57))…\" (\(s.utf8.count) bytes)" : "\"\(s)\""
        case .array(let a): a.count > 8 ? "[\(a.count) values]" : "[" + a.map(\.summary).joined(separator: ", ") + "]"
        }
    }
}

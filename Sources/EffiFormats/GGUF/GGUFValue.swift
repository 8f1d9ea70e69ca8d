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

/// The stored type of a metadata value — GGUF's type code, and for an array its elements' — so a
/// copied value keeps the exact type readers such as llama.cpp check (uint32 vs int32, float32
/// vs float64).
public struct GGUFType: Sendable, Equatable, CustomStringConvertible {
    public let code: UInt32
    public let element: UInt32?

    public init(code: UInt32, element: UInt32? = nil) {
        self.code = code
        self.element = element
    }

    public static let uint8 = GGUFType(code: 0), int8 = GGUFType(code: 1), uint16 = GGUFType(code: 2)
    public static let int16 = GGUFType(code: 3), uint32 = GGUFType(code: 4), int32 = GGUFType(code: 5)
    public static let float32 = GGUFType(code: 6), bool = GGUFType(code: 7), string = GGUFType(code: 8)
    public static let uint64 = GGUFType(code: 10), int64 = GGUFType(code: 11), float64 = GGUFType(code: 12)
    public static func array(of element: GGUFType) -> GGUFType { GGUFType(code: 9, element: element.code) }

    static let names = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
                        "uint64", "int64", "float64"]
    public var description: String {
        let name = code < Self.names.count ? Self.names[Int(code)] : "type \(code)"
        return element.map { "\(name) of \(GGUFType(code: $0))" } ?? name
    }
}

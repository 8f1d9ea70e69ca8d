import EffiModel

/// What an adapter parameter is, as structure: inside the program parameters are found by key;
/// `name` makes the tensor name only when a file is written or read.
public enum ParameterKey: Hashable, Sendable {
    /// An A shared across layers by one share group.
    case sharedProjection(ShareGroup)
    /// VeRA's frozen random matrices, shared by every site of one width: A [r, width] or B [width, r].
    case veraShared(VeRAMatrix, width: Int)
    /// Expert e of the B's one module type shares across every layer (Lily), [d_out, r].
    case sharedHead(Site, expert: Int)
    /// The router over the B experts of the sites of one layer that read one input (EffiLoRA).
    case inputRouter(layer: Int, input: SiteInput)
    /// A parameter of one site.
    case site(layer: Int, site: Site, role: SiteRole)

    public enum ShareGroup: Hashable, Sendable {
        /// `share = input`: every site reading the model width, or the FFN width (down).
        case modelWidth, ffnWidth
        /// `share = type`: one module type across layers.
        case type(Site)
    }

    public enum VeRAMatrix: Hashable, Sendable { case a, b }

    public enum SiteRole: Hashable, Sendable {
        /// The site's own A.
        case a
        /// Its B, or expert e's B of several (`expert` nil: the only one).
        case b(expert: Int?)
        /// Its own router (HydraLoRA: on x; Lily: on A x).
        case router
        /// VeRA's trainable vectors: d scales u, b scales the output.
        case veraD, veraB
        /// DoRA's magnitude m [d_out].
        case magnitude
    }

    /// The layer the parameter belongs to; nil for those shared across layers.
    public var layer: Int? {
        switch self {
        case .sharedProjection, .veraShared, .sharedHead: nil
        case .inputRouter(let layer, _), .site(let layer, _, _): layer
        }
    }

    /// The tensor name in adapter files (version 1 names, unchanged).
    public var name: String {
        switch self {
        case .sharedProjection(.modelWidth): "A.model_width"
        case .sharedProjection(.ffnWidth): "A.ffn_width"
        case .sharedProjection(.type(let site)): "A.\(site.rawValue)"
        case .veraShared(let m, let width): "vera.\(m == .a ? "A" : "B").\(width)"
        case .sharedHead(let site, let e): "B.\(site.rawValue).\(e)"
        case .inputRouter(let layer, let input): "layers.\(layer).router.\(input.rawValue)"
        case .site(let layer, let site, let role):
            "layers.\(layer).\(site.rawValue)." + {
                switch role {
                case .a: "A"
                case .b(nil): "B"
                case .b(let e?): "B.\(e)"
                case .router: "router"
                case .veraD: "vera_d"
                case .veraB: "vera_b"
                case .magnitude: "magnitude"
                }
            }()
        }
    }
}

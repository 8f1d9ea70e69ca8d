#if canImport(CDNNL)
import CDNNL
#endif

/// bfloat16 matrix products through oneDNN's matmul: activations (Float32) are rounded to bf16 at
/// the input, the weights are already bf16, accumulation and output are Float32. oneDNN picks its
/// kernels for the processor (avx512_core_bf16 on Zen 4 and Cooper Lake, AMX on Sapphire Rapids;
/// emulated, slower kernels elsewhere). One primitive per shape is created on first use and kept.
/// Like `BLAS.gemm`, call `product` from one thread at a time.
public enum OneDNN {
    /// Whether this build has oneDNN (Linux with libdnnl).
    public static var available: Bool {
        #if canImport(CDNNL)
        return true
        #else
        return false
        #endif
    }

    /// Whether oneDNN can run bf16 products on this processor at all (natively or emulated): 2.x
    /// needs AVX-512 for them and has none on AVX2-only x86 CPUs. Found by describing one tiny
    /// bf16 matmul, once.
    public static let supportsBFloat16: Bool = {
        #if canImport(CDNNL)
        return MatMulPrimitives.shared.canDescribe(.init(transB: false, m: 1, n: 1, k: 1, ldb: 1, ldc: 1, accumulate: false))
        #else
        return false
        #endif
    }()

    /// "oneDNN 2.6.3 (OpenMP)", for reports.
    public static var version: String {
        #if canImport(CDNNL)
        let v = dnnl_version()!.pointee
        return "oneDNN \(v.major).\(v.minor).\(v.patch) (OpenMP)"
        #else
        return "none"
        #endif
    }

    /// The instruction set oneDNN's kernels dispatch to on this processor.
    public static var isa: String {
        #if canImport(CDNNL)
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_sse41: return "sse41"
        default: return "other"
        }
        #else
        return "none"
        #endif
    }

    /// Whether the kernels oneDNN dispatches to multiply bf16 natively (AVX512_BF16 or AMX); with
    /// `DNNL_MAX_CPU_ISA` below them, or on older CPUs, bf16 products run emulated.
    public static var nativeBFloat16Kernels: Bool {
        ["avx512_core_bf16", "avx512_core_amx"].contains(isa)
    }

    /// The OpenMP threads oneDNN's products use.
    public static var threads: Int {
        #if canImport(CDNNL)
        return Int(omp_get_max_threads())
        #else
        return 0
        #endif
    }

    /// c[M,N] (+)= a[M,K] · op(b), a Float32 with row stride `lda`, b bfloat16: with `transB`
    /// b is stored [N,K] (the forward x·Wᵀ), else [K,N] (the input gradient dy·W); row stride `ldb`.
    public static func product(transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        #if canImport(CDNNL)
        MatMulPrimitives.shared.run(transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                                    accumulate: accumulate, c: c, ldc: ldc)
        #else
        preconditionFailure("bf16 products need oneDNN, which this build does not have")
        #endif
    }

    /// The same product with the activations already rounded: `a` is a dense bf16 [M,K] (for
    /// several products of one input, rounded once).
    public static func product(transB: Bool, m: Int, n: Int, k: Int, roundedA a: UnsafePointer<UInt16>,
                               b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        #if canImport(CDNNL)
        MatMulPrimitives.shared.execute(.init(transB: transB, m: m, n: n, k: k, ldb: ldb, ldc: ldc, accumulate: accumulate),
                                        a: a, b: b, c: c)
        #else
        preconditionFailure("bf16 products need oneDNN, which this build does not have")
        #endif
    }
}

#if canImport(CDNNL)
/// The engine, the stream, one matmul primitive (with its memory objects) per shape, and the
/// bf16 copy of the activations.
private final class MatMulPrimitives: @unchecked Sendable {
    static let shared = MatMulPrimitives()

    struct Key: Hashable { let transB: Bool, m: Int, n: Int, k: Int, ldb: Int, ldc: Int, accumulate: Bool }
    struct Entry { let primitive: dnnl_primitive_t, src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t }

    private var engine: dnnl_engine_t?
    private var stream: dnnl_stream_t?
    private var entries: [Key: Entry] = [:]
    /// Shapes kept at once: evaluation over batches of varying length makes a new M each time, so
    /// the cache is emptied when it reaches this many (oneDNN's own primitive cache still makes
    /// re-creating a recent one cheap).
    static let capacity = 256
    private var roundedA = UnsafeMutablePointer<UInt16>.allocate(capacity: 1)
    private var roundedCapacity = 1

    private init() {
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
    }

    func run(transB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
             b: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m * k > roundedCapacity {
            roundedA.deallocate()
            roundedCapacity = m * k
            roundedA = .allocate(capacity: roundedCapacity)
        }
        StepProfile.measure(.inputRounding) { BFloat16.round(a, rows: m, columns: k, ld: lda, into: roundedA) }
        execute(Key(transB: transB, m: m, n: n, k: k, ldb: ldb, ldc: ldc, accumulate: accumulate), a: roundedA, b: b, c: c)
    }

    /// The product of `key`'s shape on bf16 activations `a` (dense [M,K]).
    func execute(_ key: Key, a: UnsafePointer<UInt16>, b: UnsafePointer<UInt16>, c: UnsafeMutablePointer<Float>) {
        if entries[key] == nil && entries.count >= Self.capacity { clear() }
        let entry = entries[key] ?? make(key)
        check(dnnl_memory_set_data_handle_v2(entry.src, UnsafeMutableRawPointer(mutating: a), stream), "binding the activations")
        check(dnnl_memory_set_data_handle_v2(entry.weights, UnsafeMutableRawPointer(mutating: b), stream), "binding the weights")
        check(dnnl_memory_set_data_handle_v2(entry.dst, c, stream), "binding the output")
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: entry.src),
                    dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: entry.weights),
                    dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: entry.dst)]
        check(dnnl_primitive_execute(entry.primitive, stream, Int32(args.count), &args), "running a matmul")
        check(dnnl_stream_wait(stream), "waiting for a matmul")
    }

    /// Whether a bf16 matmul of this shape has an implementation here (no error is raised).
    func canDescribe(_ key: Key) -> Bool {
        var d = Descriptors()
        guard describe(key, &d) == dnnl_success else { return false }
        var pd: dnnl_primitive_desc_t?
        guard dnnl_primitive_desc_create(&pd, &d.matmul, nil, engine, nil) == dnnl_success else { return false }
        dnnl_primitive_desc_destroy(pd)
        return true
    }

    struct Descriptors {
        var src = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), dst = dnnl_memory_desc_t()
        var matmul = dnnl_matmul_desc_t()
    }

    /// src [M,K] dense bf16; weights as oneDNN's [K,N]: strides (1, ldb) when b is [N,K] row-major,
    /// (ldb, 1) when it is [K,N]; dst [M,N] Float32 with row stride ldc. The first failure's status.
    private func describe(_ key: Key, _ d: inout Descriptors) -> dnnl_status_t {
        let m = Int64(key.m), n = Int64(key.n), k = Int64(key.k)
        let weightStrides: [Int64] = key.transB ? [1, Int64(key.ldb)] : [Int64(key.ldb), 1]
        var status = dnnl_memory_desc_init_by_strides(&d.src, 2, [m, k], dnnl_bf16, [k, 1])
        if status == dnnl_success { status = dnnl_memory_desc_init_by_strides(&d.weights, 2, [k, n], dnnl_bf16, weightStrides) }
        if status == dnnl_success { status = dnnl_memory_desc_init_by_strides(&d.dst, 2, [m, n], dnnl_f32, [Int64(key.ldc), 1]) }
        if status == dnnl_success { status = dnnl_matmul_desc_init(&d.matmul, &d.src, &d.weights, nil, &d.dst) }
        return status
    }

    /// The primitive of a shape, with a sum post-op to accumulate, and its memory objects.
    private func make(_ key: Key) -> Entry {
        var d = Descriptors()
        check(describe(key, &d), "describing a bf16 matmul [\(key.m), \(key.k)] × [\(key.k), \(key.n)]")
        var attributes: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attributes), "creating attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if key.accumulate {
            var postOps: dnnl_post_ops_t?
            check(dnnl_post_ops_create(&postOps), "creating post-ops")
            check(dnnl_post_ops_append_sum(postOps, 1), "adding the sum post-op")
            check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "setting post-ops")
            dnnl_post_ops_destroy(postOps)
        }
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, &d.matmul, attributes, engine, nil),
              "a bf16 matmul [\(key.m), \(key.k)] × [\(key.k), \(key.n)] (oneDNN has no implementation for it on this processor)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var primitive: dnnl_primitive_t?
        check(dnnl_primitive_create(&primitive, pd), "creating a matmul")
        func memory(_ descriptor: inout dnnl_memory_desc_t) -> dnnl_memory_t {
            var mem: dnnl_memory_t?
            check(dnnl_memory_create(&mem, &descriptor, engine, nil), "creating a memory object")
            return mem!
        }
        let entry = Entry(primitive: primitive!, src: memory(&d.src), weights: memory(&d.weights), dst: memory(&d.dst))
        entries[key] = entry
        return entry
    }

    private func clear() {
        for entry in entries.values {
            dnnl_primitive_destroy(entry.primitive)
            for memory in [entry.src, entry.weights, entry.dst] { dnnl_memory_destroy(memory) }
        }
        entries.removeAll()
    }

    private func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        precondition(status == dnnl_success, "oneDNN failed \(what()): status \(status.rawValue)")
    }
}
#endif

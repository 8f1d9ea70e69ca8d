#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Choosing OpenBLAS's kernel family. OpenBLAS 0.3.21 built with DYNAMIC_ARCH picks its kernels
/// when the library loads; on processors it does not recognise (seen here: a virtualised Xeon
/// with AVX-512) it falls back to the generic "Prescott" SSE3 kernels: 62 GFLOP/s instead of 298
/// (`effilora bench kernels`). It reads OPENBLAS_CORETYPE only at load time, so the tool sets it
/// and re-executes itself once, before any work. A value already in the environment is respected.
public enum BLASCore {
    /// Kernel families that mean OpenBLAS did not recognise the processor.
    static let genericFallbacks: Set<String> = ["prescott", "core2", "nehalem", "katmai", "coppermine", "northwood", "banias", "atom"]

    /// The family to force: SkylakeX with AVX-512 (F, DQ, BW, VL), Haswell with AVX2 and FMA;
    /// nil when OpenBLAS detected the processor itself, or the environment already chose.
    public static func recommended(cpuFlags: Set<String> = cpuFlags(), current: String = BLAS.coreName,
                                   environment: String? = getenvString("OPENBLAS_CORETYPE")) -> String? {
        guard environment == nil, genericFallbacks.contains(current.lowercased()) else { return nil }
        if cpuFlags.isSuperset(of: ["avx512f", "avx512dq", "avx512bw", "avx512vl"]) { return "SkylakeX" }
        if cpuFlags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// Sets OPENBLAS_CORETYPE and replaces this process with a fresh copy of itself when
    /// `recommended()` names a family; returns (doing nothing) otherwise or if exec fails.
    public static func reexecIfNeeded() {
        #if os(Linux)
        guard getenvString("EFFILORA_BLAS_REEXEC") == nil, let core = recommended() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("EFFILORA_BLAS_REEXEC", "1", 1)
        let args = CommandLine.unsafeArgv
        execv("/proc/self/exe", args)
        #endif
    }

    /// The processor's feature flags (Linux: the first "flags" line of /proc/cpuinfo).
    public static func cpuFlags() -> Set<String> {
        #if os(Linux)
        guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 8192)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if s.hasPrefix("flags") {
                return Set(s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).dropFirst(2).map(String.init))
            }
        }
        #endif
        return []
    }
}

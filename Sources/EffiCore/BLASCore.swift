#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Choosing OpenBLAS's kernel family. OpenBLAS 0.3.21 built with DYNAMIC_ARCH picks its kernels
/// when the library loads; on processors it does not recognise (seen here: a virtualised Xeon
/// with AVX-512) it falls back to the generic "Prescott" SSE3 kernels: 62 GFLOP/s instead of 298
/// (`effilora bench kernels`). It reads OPENBLAS_CORETYPE only at load time, so the tool sets it
/// (and the threads' spin limits below) and re-executes itself once, before any work. A value
/// already in the environment is respected.
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

    /// How long idle worker threads spin before they sleep. OpenBLAS's pthreads spin ~2^28 cycles
    /// after each product by default and libgomp's (oneDNN's OpenMP) 300,000 iterations; on a
    /// machine with as many threads as cores the spinning threads of one library take the cores
    /// the other library's threads (and the element-wise loops) need. Measured with
    /// `bench train --method lora` on 2 Zen 4 cores: bf16 185 → ~290 tokens/s, f32 186 → ~205.
    static let threadSpinLimits = [("OPENBLAS_THREAD_TIMEOUT", "4"), ("GOMP_SPINCOUNT", "10000")]

    /// The variables to set before the libraries load: the kernel family when `recommended()`
    /// names one, and the spin limits; none that the environment already sets.
    public static func pendingEnvironment() -> [(name: String, value: String)] {
        var settings = threadSpinLimits.filter { getenvString($0.0) == nil }.map { (name: $0.0, value: $0.1) }
        if let core = recommended() { settings.append((name: "OPENBLAS_CORETYPE", value: core)) }
        return settings
    }

    /// Sets `pendingEnvironment()` and replaces this process with a fresh copy of itself (the
    /// libraries read these variables only when they load); does nothing when nothing is pending
    /// or this process is already the copy, and returns if exec fails.
    public static func reexecIfNeeded() {
        #if os(Linux)
        let settings = pendingEnvironment()
        guard getenvString("EFFILORA_BLAS_REEXEC") == nil, !settings.isEmpty else { return }
        for s in settings { setenv(s.name, s.value, 1) }
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

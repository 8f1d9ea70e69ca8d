#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EffiCore

/// Where `scripts/setup.sh` puts the pinned files of `scripts/pinned-files.tsv`:
/// $EFFILORA_CACHE, or ~/.cache/effilora.
public enum PinnedFiles {
    public static var cacheDirectory: String {
        getenvString("EFFILORA_CACHE") ?? ((getenvString("HOME") ?? ".") + "/.cache/effilora")
    }

    /// The default model, SmolLM2-135M-Instruct in Q4_1.
    public static var smolLM2: String { cacheDirectory + "/models/SmolLM2-135M-Instruct.Q4_1.gguf" }
}

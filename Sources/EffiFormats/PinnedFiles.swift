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

    /// Qwen2.5-Coder-0.5B-Instruct in Q4_K_M (491 MB; `scripts/setup.sh qwen2.5-coder-0.5b`).
    public static var qwen25Coder: String { cacheDirectory + "/models/Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf" }
    /// Fetched on request only: `scripts/setup.sh qwen2.5-coder-1.5b` (1.1 GB).
    public static var qwen25Coder15: String { cacheDirectory + "/models/Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf" }
}

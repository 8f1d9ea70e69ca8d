import ArgumentParser
import EffiCore
import EffiModel

extension ComputePrecision.Choice: ExpressibleByArgument {}
extension BaseStorage.Choice: ExpressibleByArgument {}

/// `--compute-dtype` and `--base-storage`, declared once for every command that runs the model
/// (`compute_dtype` and `base_storage` in YAML config files).
struct PrecisionOptions: ParsableArguments {
    @Option(help: "Precision of the frozen base's products: f32 | bf16 | auto (bf16 where the CPU has native bf16, AVX512_BF16 or AMX; else f32). Adapters, optimiser, norms and loss stay f32.")
    var computeDtype = ComputePrecision.Choice.auto

    @Option(help: "How the frozen base is held: quantized (a GGUF's Q4_0/Q4_1/Q5_0/Q8_0/Q4_K/Q6_K blocks stay as in the file, dequantized a panel at a time for each product) | dense (every weight converted to the compute dtype at load) | auto (quantized for GGUF files, dense for Hugging Face folders).")
    var baseStorage = BaseStorage.Choice.auto

    /// The storage for `model` (a GGUF file or a folder).
    func storage(for model: String) throws -> BaseStorage {
        BaseStorage(baseStorage, modelIsFolder: try LanguageModel.isFolder(model))
    }

    /// The model at `path` (its decoder and tokenizer) in the resolved precision and storage.
    func load(_ path: String) throws -> LanguageModel {
        try LanguageModel.load(path, precision: try resolved(), storage: try storage(for: path))
    }

    /// Only the decoder of the model at `path`, in the resolved precision and storage.
    func decoder(_ path: String) throws -> Decoder {
        try LanguageModel.decoder(path, precision: try resolved(), storage: try storage(for: path))
    }

    /// The precision to load the model in; bf16 needs a build with oneDNN.
    func resolved() throws -> ComputePrecision {
        let precision = ComputePrecision(computeDtype)
        if precision == .bfloat16 && !OneDNN.available {
            throw ValidationError("--compute-dtype bf16 needs oneDNN, which this build does not have; use f32")
        }
        if precision == .bfloat16 && !OneDNN.supportsBFloat16 {
            throw ValidationError("--compute-dtype bf16: oneDNN (\(OneDNN.version), \(OneDNN.isa) kernels) has no bf16 products on this CPU (they need AVX-512); use f32")
        }
        return precision
    }
}

extension ComputePrecision {
    /// The product library and the kernels it runs, for benchmark reports.
    var kernels: String {
        self == .float32 ? BLAS.description : "\(OneDNN.version) \(OneDNN.isa)"
    }

    /// One line saying which precision and which product kernels a run uses.
    var summary: String {
        switch self {
        case .float32:
            return "compute: f32 (\(BLAS.description), \(BLAS.threads) threads)"
        case .bfloat16:
            let native = OneDNN.nativeBFloat16Kernels ? "native bf16" : "no native bf16 kernels: emulated, slower than f32"
            return "compute: bf16 (\(OneDNN.version), \(OneDNN.isa) kernels, \(OneDNN.threads) threads; \(native))"
        }
    }
}

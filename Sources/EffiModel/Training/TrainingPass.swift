import EffiCore

/// The decoder's forward with saved activations, the loss, and the backward — for activations
/// only: the base weights are frozen and never get gradients; the adapter gets its parameter
/// gradients through `DecoderAdapter.backward`. Each layer's forward and backward are
/// `Decoder.forwardLayer` / `backwardLayer` (DecoderLayer.swift); the loss is
///   L = scale · Σ_t −log softmax(Wout h(x_L))[target_t]  over targets ≠ ignore.
/// With `checkpointing`, only each layer's input is kept and the layer's forward is recomputed in
/// the backward.
public final class TrainingPass {
    public let decoder: Decoder
    public let checkpointing: Bool
    /// Rows of the output head processed at once, so [rows, vocabulary] logits stay small (a
    /// quantized head is dequantized twice per chunk, forward and input gradient).
    public var headChunk = 256
    private var headBuffers: (x: Tensor, h: Tensor, logits: Tensor)?
    /// The first layer whose output held a NaN or infinity in the last forward (nil: none).
    public private(set) var firstNonFiniteLayer: Int?

    /// Storage sized for the largest batch so far; each batch's tensors are views into it, so
    /// batches of changing lengths allocate nothing.
    private var capacityRows = 0
    private var inputStorage: [Tensor] = [], stateStorage: [Tensor] = [], scratchStorage = Tensor(shape: [0])
    private var layerInputs: [Tensor] = []
    /// The layer the last forward started at (0: the embeddings).
    private var firstComputedLayer = 0
    /// Per layer (one shared set with checkpointing): what the forward saved for the backward.
    private var saved: [Decoder.LayerState] = []
    private var scratch: Decoder.LayerScratch?

    public init(decoder: Decoder, checkpointing: Bool = false) {
        self.decoder = decoder
        self.checkpointing = checkpointing
    }

    /// Forward, loss and (when `backward`) the backward of one batch. The loss gradient is
    /// `lossScale` · ∂(Σ nll)/∂·, so a caller averaging over several micro-batches passes
    /// 1 / (their total target count). Returns the summed NLL and the number of targets.
    /// With `start`, the forward begins at `start.layer` from `start.input` (that layer's input for
    /// every row of the batch, e.g. from an activation cache) instead of at the embeddings; the
    /// backward must then not need the layers below it.
    @discardableResult
    public func run(_ batch: TrainingBatch, adapter: DecoderAdapter?, lossScale: Float, backward: Bool = true,
                    start: (layer: Int, input: Tensor)? = nil) -> (nllSum: Double, count: Int) {
        allocate(batch: batch.batch, seqLen: batch.seqLen)
        let s = scratch!
        let x = s.x
        x.copy(from: start?.input ?? decoder.embed(batch.tokens))
        firstComputedLayer = start?.layer ?? 0
        firstNonFiniteLayer = nil
        for l in firstComputedLayer..<decoder.config.layers {
            layerInputs[l].copy(from: x)
            layerForward(l, x: x, batch: batch, adapter: adapter)
            if firstNonFiniteLayer == nil && !x.buffer.allSatisfy(\.isFinite) { firstNonFiniteLayer = l }
        }
        let lowest = adapter?.lowestLayerNeedingGradients
        let result = head(x: x, targets: batch.targets, lossScale: lossScale, dx: backward && lowest != nil ? s.dx : nil)
        guard backward, let lowest, let adapter else { return result }
        precondition(lowest >= firstComputedLayer, "the backward needs layer \(lowest); the forward started at \(firstComputedLayer)")
        for l in stride(from: decoder.config.layers - 1, through: lowest, by: -1) {
            if checkpointing {
                s.x.copy(from: layerInputs[l])
                layerForward(l, x: s.x, batch: batch, adapter: adapter)
            }
            decoder.backwardLayer(l, dx: s.dx, input: layerInputs[l], saved: savedState(l), scratch: s, batch: batch.batch,
                                  seqLen: batch.seqLen, adapter: adapter, keyMask: batch.keyMask)
        }
        return result
    }

    /// The loss of the last batch `run` saw, recomputed from layer `layer` upward (the layers
    /// below, and their saved inputs, are reused): for probes that change only layers ≥ `layer`.
    /// Probing several layers in descending order keeps every later probe's input intact.
    public func lossFrom(layer: Int, batch: TrainingBatch, adapter: DecoderAdapter?) -> (nllSum: Double, count: Int) {
        precondition(layerInputs.count == decoder.config.layers && layerInputs[0].rows == batch.batch * batch.seqLen && layer >= firstComputedLayer,
                     "lossFrom needs the forward of the same batch, through layer \(layer), first")
        let x = scratch!.x
        x.copy(from: layerInputs[layer])
        for l in layer..<decoder.config.layers {
            if l > layer { layerInputs[l].copy(from: x) }
            layerForward(l, x: x, batch: batch, adapter: adapter)
        }
        return head(x: x, targets: batch.targets, lossScale: 0, dx: nil)
    }

    /// Runs `layers` over `x` ([batch · seqLen, d], in place) as the base model (no adapter): moves
    /// cached layer inputs up when the layers between lose their adapters.
    public func forwardBase(_ x: Tensor, layers: Range<Int>, batch: TrainingBatch) {
        allocate(batch: batch.batch, seqLen: batch.seqLen)
        for l in layers { layerForward(l, x: x, batch: batch, adapter: nil) }
    }

    /// The input of layer `layer` for every row of `batch`, computed as the base model (no
    /// adapter) from the embeddings.
    public func baseInput(of layer: Int, batch: TrainingBatch) -> Tensor {
        let x = decoder.embed(batch.tokens)
        forwardBase(x, layers: 0..<layer, batch: batch)
        return x
    }

    /// The input of layer `l` in the last forward ([batch · seqLen, d]; valid for l ≥ the layer it started at).
    public func layerInput(_ l: Int) -> Tensor {
        precondition(l >= firstComputedLayer && l < layerInputs.count, "layer \(l) was not computed in the last forward")
        return layerInputs[l]
    }

    private func savedState(_ l: Int) -> Decoder.LayerState { checkpointing ? saved[0] : saved[l] }

    private func allocate(batch: Int, seqLen: Int) {
        let c = decoder.config, n = batch * seqLen
        let stateRow = Decoder.LayerState.layout(c, keepsResidual: true).floatsPerRow
        if n > capacityRows {
            capacityRows = n
            inputStorage = (0..<c.layers).map { _ in Tensor(shape: [n * c.modelWidth]) }
            stateStorage = (0..<(checkpointing ? 1 : c.layers)).map { _ in Tensor(shape: [n * stateRow]) }
            scratchStorage = Tensor(shape: [n * Decoder.LayerScratch.layout(c).floatsPerRow])
        }
        layerInputs = inputStorage.map { $0.view(shape: [n, c.modelWidth]) }
        let scratch = Decoder.LayerScratch(c, rows: n, storage: scratchStorage)
        self.scratch = scratch
        saved = stateStorage.map { storage in
            Decoder.LayerState(c, batch: batch, seqLen: seqLen, keepsResidual: true, scratch: (scratch.dh, scratch.act), storage: storage)
        }
    }

    /// One layer's forward over x (in place) with the decoder's own code, saving for the backward.
    private func layerForward(_ l: Int, x: Tensor, batch: TrainingBatch, adapter: DecoderAdapter?) {
        let state = savedState(l)
        decoder.forwardLayer(l, x: x, state: state, batch: batch.batch, seqLen: batch.seqLen, positionOffsets: Array(repeating: 0, count: batch.batch),
                             adapter: adapter, keyMask: batch.keyMask) { q, k, v, out in
            decoder.attention.forward(q: q, k: k, v: v, batch: batch.batch, seqLen: batch.seqLen, keyMask: batch.keyMask, out: out, lse: state.lse)
        }
    }

    /// Final norm, output head and cross-entropy on the rows that have a target (prompt and
    /// padding rows have none: their gradient is zero), `headChunk` rows at a time gathered into
    /// one buffer; writes ∂L/∂x into `dx` when given.
    private func head(x: Tensor, targets: [Int32], lossScale: Float, dx: Tensor?) -> (nllSum: Double, count: Int) {
        let c = decoder.config, d = c.modelWidth, chunk = headChunk
        let rows = targets.indices.filter { targets[$0] >= 0 }
        if headBuffers?.logits.rows != chunk {
            headBuffers = (Tensor(shape: [chunk, d]), Tensor(shape: [chunk, d]), Tensor(shape: [chunk, c.vocabulary]))
        }
        let (xBuffer, hBuffer, logitsBuffer) = headBuffers!
        dx?.zero()
        var nllSum = 0.0, count = 0
        for start in stride(from: 0, to: rows.count, by: chunk) {
            let picked = rows[start..<min(rows.count, start + chunk)], m = picked.count
            let xc = xBuffer.rows(0..<m), h = hBuffer.rows(0..<m), logits = logitsBuffer.rows(0..<m)
            for (i, r) in picked.enumerated() { (xc.data + i * d).update(from: x.data + r * d, count: d) }
            let rstd = Tensor(shape: [m]), lse = Tensor(shape: [m]), chunkTargets = picked.map { targets[$0] }
            RMSNorm.forward(x: xc, weight: decoder.weights.outputNorm, eps: c.normEpsilon, out: h, rstd: rstd)
            decoder.weights.output.forward(h, into: logits)
            let (sum, k) = CrossEntropy.forward(logits: logits, targets: chunkTargets, lse: lse)
            nllSum += sum
            count += k
            guard let dx else { continue }
            CrossEntropy.backward(logits: logits, targets: chunkTargets, lse: lse, scale: lossScale, dLogits: logits)
            decoder.weights.output.inputGradient(logits, into: h)
            // ∂L/∂x of the gathered rows, then scattered back (x rows are distinct: no overlap).
            let dxc = Tensor(shape: [m, d])
            RMSNorm.backward(dy: h, x: xc, weight: decoder.weights.outputNorm, rstd: rstd, dx: dxc)
            for (i, r) in picked.enumerated() { (dx.data + r * d).update(from: dxc.data + i * d, count: d) }
        }
        return (nllSum, count)
    }
}

// Dot products of ggml-quantized weight rows with 8-bit quantized activations, for decoding
// (one token's activations against every row of a weight). The project's own kernels.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Activations in blocks of 32: q = round(x / d) with d = max|x| / 127 per block (d = 0 for an
// all-zero block), and dsums = d · Σ q per block (for the offsets of formats with a minimum).
// n must be a multiple of 32; q has n entries, d and dsums n/32.
void effi_quantize_activations(const float *x, int n, int8_t *q, float *d, float *dsums);

// 1 when this processor has kernels for rows of `columns` values of `type` (ggml's type code),
// else 0 (then effi_dot_rows and the dequantize functions return -1).
int effi_dot_supports(int type, int columns);

// y[r - r0] = Σ_c W[r, c] · x[c] for rows r in [r0, r1) of a weight of `type` (ggml's type code:
// 2 Q4_0, 3 Q4_1, 6 Q5_0, 8 Q8_0, 12 Q4_K, 14 Q6_K) whose rows are `row_bytes` apart, against
// activations quantized by effi_quantize_activations (n = columns). Returns 0, or -1 for a type
// without a kernel.
int effi_dot_rows(int type, const void *weights, size_t row_bytes, int columns, int r0, int r1,
                  const int8_t *q, const float *d, const float *dsums, float *y);

// One row of `columns` values of `type` dequantized to Float32 into y (the same values as ggml's
// dequantisation: w = d·v + m per block). Returns 0, or -1 without a kernel for the type.
int effi_dequantize_row(int type, const void *row, int columns, float *y);

// The same row rounded to bfloat16 (nearest even, NaN kept), as 16-bit patterns into y.
int effi_dequantize_row_bf16(int type, const void *row, int columns, uint16_t *y);

// The instruction set the kernels use here: "avx512-vnni", "avx2" or "scalar" (none).
const char *effi_dot_isa(void);

// Uses the AVX2 kernels even where AVX512-VNNI is present ("avx2"; for tests and benchmarks);
// any other name returns to the best set, succeeding when that is the one named. Returns 0, or -1 when the set is not available.
int effi_dot_limit_isa(const char *isa);

#ifdef __cplusplus
}
#endif

#include "quant_dot.h"

#include <math.h>
#include <string.h>

// The 6-bit scale and min of Q4_K sub-block j from its 12 packed bytes: j < 4 in the low six bits
// of bytes j and j+4; j ≥ 4 split between byte j+4's nibbles and the top two bits of bytes j−4 and j.
static inline void scale_min_k4(int j, const uint8_t *s, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 0x0F) | (s[j - 4] >> 6) << 4;
        *min = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

void effi_quantize_activations(const float *x, int n, int8_t *q, float *d, float *dsums) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float scale = amax / 127, inverse = scale > 0 ? 1 / scale : 0;
        d[b] = scale;
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            int8_t v = (int8_t)lrintf(xb[j] * inverse);
            q[32 * b + j] = v;
            sum += v;
        }
        dsums[b] = scale * (float)sum;
    }
}

// One instruction set's kernels.
typedef struct {
    const char *name;
    float (*row)(int, const uint8_t *, int, const int8_t *, const float *, const float *);
    void (*dequantize)(int, const uint8_t *, int, float *);
    void (*dequantize_bf16)(int, const uint8_t *, int, uint16_t *);
} kernel_set;

#if defined(__x86_64__)
#include <immintrin.h>

#define TARGET "avx2,fma,f16c"
#define K(name) name##_avx2
// madd(maddubs(u, s), 1): pairs of bytes to int16, pairs of int16 to int32.
#define DOT32(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
#include "quant_dot_kernels.inc"
#undef TARGET
#undef K
#undef DOT32

#define TARGET "avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni"
#define K(name) name##_vnni
// vpdpbusd: four bytes at once into each int32 lane.
#define DOT32(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
#include "quant_dot_kernels.inc"
#undef TARGET
#undef K
#undef DOT32

static const kernel_set avx2_kernels = {"avx2", row_avx2, dequantize_avx2, dequantize_bf16_avx2};
static const kernel_set vnni_kernels = {"avx512-vnni", row_vnni, dequantize_vnni, dequantize_bf16_vnni};

static const kernel_set *best_kernels(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) {
        return &vnni_kernels;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return &avx2_kernels;
    return 0;
}
#else
static const kernel_set *best_kernels(void) { return 0; }
#endif

static const kernel_set *chosen;
static int ready;

static const kernel_set *kernels(void) {
    if (!ready) {  // racing first calls choose the same set
        chosen = best_kernels();
        ready = 1;
    }
    return chosen;
}

const char *effi_dot_isa(void) {
    const kernel_set *k = kernels();
    return k ? k->name : "scalar";
}

int effi_dot_limit_isa(const char *isa) {
    const kernel_set *best = best_kernels();
#if defined(__x86_64__)
    if (strcmp(isa, "avx2") == 0 && best) {
        chosen = &avx2_kernels;
        ready = 1;
        return 0;
    }
#endif
    chosen = best;
    ready = 1;
    return strcmp(isa, effi_dot_isa()) == 0 ? 0 : -1;
}

int effi_dot_supports(int type, int columns) {
    int known = type == 2 || type == 3 || type == 6 || type == 8 || type == 12 || type == 14;
    return kernels() && known && columns % (type >= 12 ? 256 : 32) == 0;
}

int effi_dot_rows(int type, const void *weights, size_t row_bytes, int columns, int r0, int r1,
                  const int8_t *q, const float *d, const float *dsums, float *y) {
    if (!effi_dot_supports(type, columns)) return -1;
    for (int r = r0; r < r1; r++) y[r - r0] = chosen->row(type, (const uint8_t *)weights + (size_t)r * row_bytes, columns, q, d, dsums);
    return 0;
}

int effi_dequantize_row(int type, const void *row, int columns, float *y) {
    if (!effi_dot_supports(type, columns)) return -1;
    chosen->dequantize(type, (const uint8_t *)row, columns, y);
    return 0;
}

int effi_dequantize_row_bf16(int type, const void *row, int columns, uint16_t *y) {
    if (!effi_dot_supports(type, columns)) return -1;
    chosen->dequantize_bf16(type, (const uint8_t *)row, columns, y);
    return 0;
}

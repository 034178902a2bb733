// Matrix products of bfloat16 operands on the AVX-512 BF16 dot-product instruction (vdpbf16ps),
// which Swift cannot emit: each 32-bit lane adds a[2q]·b[2q] + a[2q+1]·b[2q+1] to a float32
// accumulator, twice the multiply-adds of a float32 FMA per instruction. The functions are
// compiled for AVX-512 BF16 on their own and called only after `hallu_bf16_dot_available()`.
// Last, widened bfloat16 decoding products on plain AVX-512 (`hallu_avx512_available()`): Swift
// code targets AVX2 and its 16 registers.
#include "CBF16.h"

#if defined(__x86_64__)

#include <immintrin.h>
#include <string.h>

#define MR 12     // rows of the register tile: 12 x 2 accumulators, two weight vectors, one broadcast
#define NR 32     // columns of the register tile (two vectors of 16 float32)
#define KCP 256   // pairs of k per packed block (512 elements)
#define NC 128    // weight rows (columns of c) per packed block

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

int hallu_bf16_dot_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
}

long hallu_bf16_gemm_scratch_words(void) { return (long)KCP * NC; }

static inline uint16_t round_one(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

BF16_TARGET
void hallu_bf16_round_rows(const float *a, long lda, long rows, long k, uint16_t *dst, long ldd) {
    for (long i = 0; i < rows; i++) {
        const float *src = a + i * lda;
        uint16_t *out = dst + i * ldd;
        long p = 0;
        for (; p + 32 <= k; p += 32) {
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + p + 16), _mm512_loadu_ps(src + p));
            _mm512_storeu_si512((void *)(out + p), (__m512i)v);
        }
        for (; p < k; p++) out[p] = round_one(src[p]);
        if (k & 1) out[k] = 0;
    }
}

// Writes the 16x16 block of 32-bit words rows[0..16) x [0, 16) transposed: word c of every row
// to dst[c * NR + 0..16).
BF16_TARGET
static inline void transpose16(const __m512i r[16], uint32_t *dst) {
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // u[4i + j], 128-bit lane L: word 4L + j of rows 4i..4i+3.
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int j = 0; j < 4; j++) {
        __m512i x = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), y = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
        __m512i x2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88), y2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
        _mm512_storeu_si512((void *)(dst + j * NR), _mm512_shuffle_i32x4(x, x2, 0x88));
        _mm512_storeu_si512((void *)(dst + (4 + j) * NR), _mm512_shuffle_i32x4(y, y2, 0x88));
        _mm512_storeu_si512((void *)(dst + (8 + j) * NR), _mm512_shuffle_i32x4(x, x2, 0xdd));
        _mm512_storeu_si512((void *)(dst + (12 + j) * NR), _mm512_shuffle_i32x4(y, y2, 0xdd));
    }
}

// Packs weight rows [0, cols) x pairs [q0, q0 + pairs) into panels of NR rows:
// dst[(panel * pairs + q) * NR + r] = the pair (w[row][2(q0+q)], w[row][2(q0+q)+1]) of row panel*NR + r.
// Whole panels are transposed 16 rows by 16 pairs at a time; the rest (a short last panel, the
// last pairs, the zero after an odd k) one word at a time.
BF16_TARGET
static void pack_weight(const uint16_t *w, long ldw, long k, long cols, long q0, long pairs, uint32_t *dst) {
    long panels = (cols + NR - 1) / NR;
    long fullPairs = (k - 2 * q0) / 2;  // pairs whose both elements lie inside k
    if (fullPairs > pairs) fullPairs = pairs;
    long blocked = fullPairs / 16 * 16;
    for (long pn = 0; pn < panels; pn++) {
        uint32_t *panel = dst + pn * pairs * NR;
        long q = 0;
        if ((pn + 1) * NR <= cols) {
            for (; q < blocked; q += 16) {
                for (int h = 0; h < NR / 16; h++) {
                    __m512i r[16];
                    for (int i = 0; i < 16; i++)
                        r[i] = _mm512_loadu_si512((const void *)(w + (pn * NR + h * 16 + i) * ldw + 2 * (q0 + q)));
                    transpose16(r, panel + q * NR + h * 16);
                }
            }
        }
        for (long r = 0; r < NR; r++) {
            long j = pn * NR + r;
            if (j >= cols) {
                for (long qq = q; qq < pairs; qq++) panel[qq * NR + r] = 0;
                continue;
            }
            const uint16_t *row = w + j * ldw;
            for (long qq = q; qq < pairs; qq++) {
                long e = 2 * (q0 + qq);
                uint32_t lo = row[e], hi = e + 1 < k ? row[e + 1] : 0;
                panel[qq * NR + r] = lo | hi << 16;
            }
        }
    }
}

static inline __mmask16 column_mask(long cols) {
    return cols >= 16 ? (__mmask16)0xffff : cols <= 0 ? (__mmask16)0 : (__mmask16)((1u << cols) - 1);
}

// c[0..rows, 0..cols] (+)= a[0..MR] · panel over `pairs` pairs; `first` applies beta, later blocks add.
BF16_TARGET
static void kernel(long pairs, const uint16_t *a, long lda, const uint32_t *b, float *c, long ldc,
                   long rows, long cols, float beta, int first) {
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    for (long q = 0; q < pairs; q++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b + q * NR));
        __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + q * NR + 16));
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            uint32_t pair;
            memcpy(&pair, a + r * lda + 2 * q, 4);
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)pair);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
        }
    }
    __mmask16 m0 = column_mask(cols), m1 = column_mask(cols - 16);
    __m512 vb = _mm512_set1_ps(beta);
    for (int r = 0; r < MR && r < rows; r++) {
        float *row = c + r * ldc;
        __m512 o0 = acc[r][0], o1 = acc[r][1];
        if (!first || beta != 0) {
            __m512 c0 = _mm512_maskz_loadu_ps(m0, row), c1 = _mm512_maskz_loadu_ps(m1, row + 16);
            if (first && beta != 1) { c0 = _mm512_mul_ps(c0, vb); c1 = _mm512_mul_ps(c1, vb); }
            o0 = _mm512_add_ps(c0, o0); o1 = _mm512_add_ps(c1, o1);
        }
        _mm512_mask_storeu_ps(row, m0, o0);
        _mm512_mask_storeu_ps(row + 16, m1, o1);
    }
}

BF16_TARGET
void hallu_bf16_gemm(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *w, long ldw,
                     float beta, float *c, long ldc, uint32_t *scratch) {
    long pairsAll = (k + 1) / 2;
    for (long j0 = 0; j0 < n; j0 += NC) {
        long cols = n - j0 < NC ? n - j0 : NC;
        for (long q0 = 0; q0 < pairsAll; q0 += KCP) {
            long pairs = pairsAll - q0 < KCP ? pairsAll - q0 : KCP;
            pack_weight(w + j0 * ldw, ldw, k, cols, q0, pairs, scratch);
            for (long i0 = 0; i0 < m; i0 += MR) {
                long rows = m - i0 < MR ? m - i0 : MR;
                for (long pn = 0; pn * NR < cols; pn++) {
                    long pc = cols - pn * NR < NR ? cols - pn * NR : NR;
                    kernel(pairs, a + i0 * lda + 2 * q0, lda, scratch + pn * pairs * NR,
                           c + i0 * ldc + j0 + pn * NR, ldc, rows, pc, beta, q0 == 0);
                }
            }
        }
    }
}

// The decoding-step tile: SR rows of a against SC weight rows, each dot product in one 16-lane
// accumulator over 32 elements of k per step. The weight is read in place, once per SR rows.
#define SR 4
#define SC 4

static inline __mmask32 tail_mask(long left) {
    return left >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1ull << left) - 1);
}

// rows x SC dot products (rows <= SR, a constant once inlined) of a's rows with SC weight rows.
BF16_TARGET __attribute__((always_inline))
static inline void gemv_tile(const int rows, long k, const uint16_t *a, long lda, const uint16_t *const *wr,
                             long cols, float beta, float *c, long ldc) {
    __m512 acc[SR][SC];
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < SC; q++) acc[r][q] = _mm512_setzero_ps();
    for (long p = 0; p < k; p += 32) {
        __mmask32 mask = tail_mask(k - p);
        __m512bh wv[SC];
        for (int q = 0; q < SC; q++) wv[q] = (__m512bh)_mm512_maskz_loadu_epi16(mask, wr[q] + p);
        for (int r = 0; r < rows; r++) {
            __m512bh x = (__m512bh)_mm512_maskz_loadu_epi16(mask, a + r * lda + p);
            for (int q = 0; q < SC; q++) acc[r][q] = _mm512_dpbf16_ps(acc[r][q], x, wv[q]);
        }
    }
    for (int r = 0; r < rows; r++) {
        for (long q = 0; q < cols; q++) {
            float s = _mm512_reduce_add_ps(acc[r][q]);
            float *out = c + r * ldc + q;
            *out = beta == 0 ? s : beta == 1 ? *out + s : beta * *out + s;
        }
    }
}

BF16_TARGET
void hallu_bf16_gemv(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *w, long ldw,
                     float beta, float *c, long ldc) {
    for (long j0 = 0; j0 < n; j0 += SC) {
        long cols = n - j0 < SC ? n - j0 : SC;
        const uint16_t *wr[SC];
        for (int q = 0; q < SC; q++) wr[q] = w + (j0 + (q < cols ? q : 0)) * ldw;
        long i0 = 0;
        for (; i0 + SR <= m; i0 += SR) gemv_tile(SR, k, a + i0 * lda, lda, wr, cols, beta, c + i0 * ldc + j0, ldc);
        switch (m - i0) {
        case 3: gemv_tile(3, k, a + i0 * lda, lda, wr, cols, beta, c + i0 * ldc + j0, ldc); break;
        case 2: gemv_tile(2, k, a + i0 * lda, lda, wr, cols, beta, c + i0 * ldc + j0, ldc); break;
        case 1: gemv_tile(1, k, a + i0 * lda, lda, wr, cols, beta, c + i0 * ldc + j0, ldc); break;
        default: break;
        }
    }
}

// ---- Widened bfloat16 products for decoding steps on AVX-512 (no dot product needed) ----
//
// The float32 products of the stored weights, as the portable Swift kernel computes them, with
// AVX-512's 32 registers: a 4x4 tile of sums over 32 elements of k per step, each weight word
// holding an even element (its low half, shifted up) and an odd one (its high half, masked).

#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

int hallu_avx512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
}

void hallu_split_even_odd(const float *a, long lda, long rows, long k, float *dst) {
    long k32 = k / 32 * 32;
    for (long i = 0; i < rows; i++) {
        const float *src = a + i * lda;
        float *out = dst + i * k32;
        for (long p = 0; p < k32; p += 32)
            for (int q = 0; q < 16; q++) { out[p + q] = src[p + 2 * q]; out[p + 16 + q] = src[p + 2 * q + 1]; }
    }
}

static inline float widen_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

AVX512_TARGET __attribute__((always_inline))
static inline void widened_tile(const int rows, long k, const float *a, long lda, const float *x, long ldx,
                                const uint16_t *const *wr, long cols, float beta, float *c, long ldc) {
    const __m512i high = _mm512_set1_epi32((int)0xffff0000u);
    long k32 = k / 32 * 32;
    __m512 acc[SR][SC];
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < SC; q++) acc[r][q] = _mm512_setzero_ps();
    for (long p = 0; p < k32; p += 32) {
        __m512 we[SC], wo[SC];
        for (int q = 0; q < SC; q++) {
            __m512i u = _mm512_loadu_si512((const void *)(wr[q] + p));
            we[q] = _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
            wo[q] = _mm512_castsi512_ps(_mm512_and_si512(u, high));
        }
        for (int r = 0; r < rows; r++) {
            __m512 xe = _mm512_loadu_ps(x + r * ldx + p), xo = _mm512_loadu_ps(x + r * ldx + p + 16);
            for (int q = 0; q < SC; q++) acc[r][q] = _mm512_fmadd_ps(xo, wo[q], _mm512_fmadd_ps(xe, we[q], acc[r][q]));
        }
    }
    for (int r = 0; r < rows; r++) {
        for (long q = 0; q < cols; q++) {
            float s = _mm512_reduce_add_ps(acc[r][q]);
            for (long p = k32; p < k; p++) s += a[r * lda + p] * widen_bf16(wr[q][p]);
            float *out = c + r * ldc + q;
            *out = beta == 0 ? s : beta == 1 ? *out + s : beta * *out + s;
        }
    }
}

AVX512_TARGET
void hallu_bf16_widened_gemv(long m, long n, long k, const float *a, long lda, const float *x, const uint16_t *w, long ldw,
                             float beta, float *c, long ldc) {
    long ldx = k / 32 * 32;
    for (long j0 = 0; j0 < n; j0 += SC) {
        long cols = n - j0 < SC ? n - j0 : SC;
        const uint16_t *wr[SC];
        for (int q = 0; q < SC; q++) wr[q] = w + (j0 + (q < cols ? q : 0)) * ldw;
        long i0 = 0;
        for (; i0 + SR <= m; i0 += SR)
            widened_tile(SR, k, a + i0 * lda, lda, x + i0 * ldx, ldx, wr, cols, beta, c + i0 * ldc + j0, ldc);
        switch (m - i0) {
        case 3: widened_tile(3, k, a + i0 * lda, lda, x + i0 * ldx, ldx, wr, cols, beta, c + i0 * ldc + j0, ldc); break;
        case 2: widened_tile(2, k, a + i0 * lda, lda, x + i0 * ldx, ldx, wr, cols, beta, c + i0 * ldc + j0, ldc); break;
        case 1: widened_tile(1, k, a + i0 * lda, lda, x + i0 * ldx, ldx, wr, cols, beta, c + i0 * ldc + j0, ldc); break;
        default: break;
        }
    }
}

#else  // no AVX-512 BF16 on this architecture: callers see it unavailable and widen instead

int hallu_bf16_dot_available(void) { return 0; }
long hallu_bf16_gemm_scratch_words(void) { return 0; }
void hallu_bf16_round_rows(const float *a, long lda, long rows, long k, uint16_t *dst, long ldd) {}
void hallu_bf16_gemm(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *w, long ldw,
                     float beta, float *c, long ldc, uint32_t *scratch) {}
void hallu_bf16_gemv(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *w, long ldw,
                     float beta, float *c, long ldc) {}
int hallu_avx512_available(void) { return 0; }
void hallu_split_even_odd(const float *a, long lda, long rows, long k, float *dst) {}
void hallu_bf16_widened_gemv(long m, long n, long k, const float *a, long lda, const float *x, const uint16_t *w, long ldw,
                             float beta, float *c, long ldc) {}

#endif

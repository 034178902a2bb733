#ifndef HALLU_CBF16_H
#define HALLU_CBF16_H

#include <stdint.h>

/// 1 when the CPU has the AVX-512 bfloat16 dot product (vdpbf16ps), else 0.
int hallu_bf16_dot_available(void);

/// Rounds `rows` rows of `k` float32 values (row stride `lda`) to bfloat16, nearest even, into
/// `dst` (row stride `ldd` >= k rounded up to even); an odd k gets a zero after each row.
/// Needs `hallu_bf16_dot_available()`.
void hallu_bf16_round_rows(const float *a, long lda, long rows, long k, uint16_t *dst, long ldd);

/// Words of scratch `hallu_bf16_gemm` needs (one packed block of the weight).
long hallu_bf16_gemm_scratch_words(void);

/// c = a · wᵀ + beta · c for a [m, k] in bfloat16 (row stride lda, rows padded with zeros to a
/// multiple of 12, an odd k padded with a zero column) and w [n, k] in bfloat16 (row stride ldw),
/// accumulated in float32 with vdpbf16ps. Single-threaded; `scratch` holds
/// `hallu_bf16_gemm_scratch_words()` 32-bit words. Needs `hallu_bf16_dot_available()`.
void hallu_bf16_gemm(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *w, long ldw,
                     float beta, float *c, long ldc, uint32_t *scratch);

/// c = a · wᵀ + beta · c for the few rows of a decoding step: a [m, k] and w [n, k] in bfloat16
/// (row strides lda, ldw), each element one dot product accumulated in float32 with vdpbf16ps,
/// the weight read in place. Single-threaded; any m, n, k. Needs `hallu_bf16_dot_available()`.
void hallu_bf16_gemv(long m, long n, long k, const uint16_t *a, long lda, const uint16_t *w, long ldw,
                     float beta, float *c, long ldc);

/// 1 when the CPU has AVX-512 (F and BW), which `hallu_bf16_widened_gemv` needs, else 0.
int hallu_avx512_available(void);

/// Copies `rows` rows of `a` (row stride lda) into `dst` (row stride k rounded down to 32), each
/// block of 32 values as its 16 even then its 16 odd ones: the order `hallu_bf16_widened_gemv`
/// reads them in.
void hallu_split_even_odd(const float *a, long lda, long rows, long k, float *dst);

/// c = a · widen(w)ᵀ + beta · c for the few rows of a decoding step: a [m, k] float32 (row stride
/// lda; `x` the same rows from `hallu_split_even_odd`), w [n, k] bfloat16 (row stride ldw), the
/// weight widened exactly in registers and read in place, float32 accumulation. Single-threaded.
/// Needs `hallu_avx512_available()`.
void hallu_bf16_widened_gemv(long m, long n, long k, const float *a, long lda, const float *x, const uint16_t *w, long ldw,
                             float beta, float *c, long ldc);

#endif

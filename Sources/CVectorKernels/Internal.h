// Shared between the kernels' files (inlined into each); not part of the module's interface.
#ifndef CVECTORKERNELS_INTERNAL_H
#define CVECTORKERNELS_INTERNAL_H
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// exp(x) for softmax: x = n ln2 + r, n = round(x / ln2), r by a two-part (Cody-Waite) ln2, e^r by the
// degree-6 minimax polynomial of HiDiffKernels.fastExp in fused multiply-adds, 2^n into the exponent field.
// Relative error <= 2e-7 on [-87, 88]; inputs beyond are clamped there, NaN stays NaN. Fifteen vector
// operations where the unfused form takes 27: softmax's exponentials were a third of attention's time.
static inline float exp_scalar(float v) {
    float x = v;
    if (x < -87.33654f) x = -87.33654f;
    if (x > 88.0f) x = 88.0f;
    const float magic = 12582912.0f;
    float t = fmaf(x, 1.44269504088896341f, magic);
    float n = t - magic;
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float y = 0.001381461275741458f;
    y = fmaf(y, r, 0.008368710055947304f);
    y = fmaf(y, r, 0.04166838899254799f);
    y = fmaf(y, r, 0.1666652113199234f);
    y = fmaf(y, r, 0.4999999403953552f);
    y = fmaf(y, r, 1.0f);
    y = fmaf(y, r, 1.0f);
    int32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    uint32_t pb = (uint32_t)((tb - mb) + 127) << 23;
    float p;
    memcpy(&p, &pb, 4);
    return y * p;
}

static inline uint16_t bf16_scalar(float x);

/// x rounded to bfloat16 and widened back to float32.
static inline float round_bf16_scalar(float x) {
    uint32_t bits = (uint32_t)bf16_scalar(x) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t bf16_scalar(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if (x != x) return (uint16_t)((bits >> 16) | 0x0040);
    return (uint16_t)((bits + (0x7FFFu + ((bits >> 16) & 1u))) >> 16);
}


#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

AVX512 static inline __m512 exp16(__m512 v) {
    const __m512 lo = _mm512_set1_ps(-87.33654f), hi = _mm512_set1_ps(88.0f);
    __m512 x = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), lo);
    x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), hi);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), magic);
    __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(0.001381461275741458f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.008368710055947304f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.04166838899254799f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.1666652113199234f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(0.4999999403953552f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_castps_si512(magic));
    __m512i pow2 = _mm512_slli_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(pow2));
}

AVX512 static inline __m256i bf16x16(__m512 x) {
    __m512i bits = _mm512_castps_si512(x);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7FFF))), 16);
    __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(0x0040));
    __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

/// bfloat16 rounding of sixteen lanes, widened back to float32.
AVX512 static inline __m512 round_bf16x16(__m512 x) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bf16x16(x)), 16));
}
#endif
#endif

// Softmax's row loops at three levels; see CVectorKernels.h. Products and sums are never fused (no FMA):
// the portable Swift path rounds after each operation, and so must these.
#pragma clang fp contract(off)

#include "CVectorKernels.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// ---- portable scalar reference (the lane arithmetic of HiDiffKernels.fastExp) ----

static inline float exp_scalar(float v) {
    float x = v;
    if (x < -87.33654f) x = -87.33654f;
    if (x > 88.0f) x = 88.0f;
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = 0.001381461275741458f;
    y = y * r + 0.008368710055947304f;
    y = y * r + 0.04166838899254799f;
    y = y * r + 0.1666652113199234f;
    y = y * r + 0.4999999403953552f;
    y = y * r + 1.0f;
    y = y * r + 1.0f;
    int32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    uint32_t pb = (uint32_t)((tb - mb) + 127) << 23;
    float p;
    memcpy(&p, &pb, 4);
    return y * p;
}

static inline uint16_t bf16_scalar(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if (x != x) return (uint16_t)((bits >> 16) | 0x0040);
    return (uint16_t)((bits + (0x7FFFu + ((bits >> 16) & 1u))) >> 16);
}

static float scale_max_scalar(float *p, long n, float scale) {
    if (scale != 1.0f) for (long i = 0; i < n; i++) p[i] *= scale;
    float m = -INFINITY;
    for (long i = 0; i < n; i++) if (p[i] > m) m = p[i];
    return m;
}

static float exp_shifted_scalar(float *p, long n, float shift, uint16_t *bf16) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            float e = exp_scalar(p[i + l] - shift);
            if (bf16) bf16[i + l] = bf16_scalar(e); else p[i + l] = e;
            lanes[l] += e;
        }
    float sum = 0;
    for (int l = 0; l < 8; l++) sum += lanes[l];
    for (; i < n; i++) {
        float e = exp_scalar(p[i] - shift);
        if (bf16) bf16[i] = bf16_scalar(e); else p[i] = e;
        sum += e;
    }
    return sum;
}

static void to_bf16_scalar(const float *src, uint16_t *dst, long n) {
    for (long i = 0; i < n; i++) dst[i] = bf16_scalar(src[i]);
}

#if defined(__x86_64__)

// ---- AVX2: eight lanes, as the portable SIMD8 code ----

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256 exp8(__m256 v) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.0f);
    // (x < lo) ? lo : x, then (x > hi) ? hi : x: NaN stays NaN, as the portable `replacing(with:where:)`.
    __m256 x = _mm256_blendv_ps(v, lo, _mm256_cmp_ps(v, lo, _CMP_LT_OQ));
    x = _mm256_blendv_ps(x, hi, _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(-2.12194440e-4f)));
    __m256 y = _mm256_set1_ps(0.001381461275741458f);
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(0.008368710055947304f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(0.04166838899254799f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(0.1666652113199234f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(0.4999999403953552f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.0f));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
    __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(pow2));
}

/// Eight bfloat16 bit patterns of eight floats, in the low halves of eight 32-bit lanes.
AVX2 static inline __m256i bf16x8(__m256 x) {
    __m256i bits = _mm256_castps_si256(x);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7FFF))), 16);
    __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(0x0040));
    __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    return _mm256_blendv_epi8(rounded, quiet, _mm256_castps_si256(nan));
}

AVX2 static inline void store_bf16x8(uint16_t *dst, __m256 x) {
    __m256i v = bf16x8(x);
    // Pack the eight 32-bit lanes (values < 2^16) to 16 bits: packus works per 128-bit half.
    __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128((__m128i *)dst, packed);
}

AVX2 static float scale_max_avx2(float *p, long n, float scale) {
    long i = 0;
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    const __m256 s8 = _mm256_set1_ps(scale);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(p + i);
        if (scale != 1.0f) { v = _mm256_mul_ps(v, s8); _mm256_storeu_ps(p + i, v); }
        m8 = _mm256_blendv_ps(m8, v, _mm256_cmp_ps(v, m8, _CMP_GT_OQ));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, m8);
    float m = -INFINITY;
    for (int l = 0; l < 8; l++) if (lanes[l] > m) m = lanes[l];
    for (; i < n; i++) {
        if (scale != 1.0f) p[i] *= scale;
        if (p[i] > m) m = p[i];
    }
    return m;
}

/// The tail (fewer than eight floats) of exp_shifted: lane by lane, added to sum in order.
AVX2 static float exp_tail_avx2(float *p, long n, float shift, uint16_t *bf16, float sum) {
    float in[8] = {0, 0, 0, 0, 0, 0, 0, 0}, out[8];
    for (long l = 0; l < n; l++) in[l] = p[l];
    _mm256_storeu_ps(out, exp8(_mm256_sub_ps(_mm256_loadu_ps(in), _mm256_set1_ps(shift))));
    for (long l = 0; l < n; l++) {
        if (bf16) bf16[l] = bf16_scalar(out[l]); else p[l] = out[l];
        sum += out[l];
    }
    return sum;
}

AVX2 static float lane_sum8(__m256 acc) {
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    float sum = 0;
    for (int l = 0; l < 8; l++) sum += lanes[l];
    return sum;
}

AVX2 static float exp_shifted_avx2(float *p, long n, float shift, uint16_t *bf16) {
    const __m256 s8 = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + i), s8));
        if (bf16) store_bf16x8(bf16 + i, e); else _mm256_storeu_ps(p + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    return exp_tail_avx2(p + i, n - i, shift, bf16 ? bf16 + i : NULL, lane_sum8(acc));
}

AVX2 static void to_bf16_avx2(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) store_bf16x8(dst + i, _mm256_loadu_ps(src + i));
    for (; i < n; i++) dst[i] = bf16_scalar(src[i]);
}

// ---- AVX-512: sixteen lanes; sums kept as the eight-lane running sums of the other levels ----

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2")))

AVX512 static inline __m512 exp16(__m512 v) {
    const __m512 lo = _mm512_set1_ps(-87.33654f), hi = _mm512_set1_ps(88.0f);
    __m512 x = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), lo);
    x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), hi);
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), magic);
    __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 y = _mm512_set1_ps(0.001381461275741458f);
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(0.008368710055947304f));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(0.04166838899254799f));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(0.1666652113199234f));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(0.4999999403953552f));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(1.0f));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(1.0f));
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

AVX512 static float scale_max_avx512(float *p, long n, float scale) {
    long i = 0;
    __m512 m16 = _mm512_set1_ps(-INFINITY);
    const __m512 s16 = _mm512_set1_ps(scale);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(p + i);
        if (scale != 1.0f) { v = _mm512_mul_ps(v, s16); _mm512_storeu_ps(p + i, v); }
        m16 = _mm512_mask_mov_ps(m16, _mm512_cmp_ps_mask(v, m16, _CMP_GT_OQ), v);
    }
    float m = _mm512_reduce_max_ps(m16);  // a maximum is exact: the order of the comparisons does not matter
    float rest = scale_max_avx2(p + i, n - i, scale);
    return rest > m ? rest : m;
}

AVX512 static float exp_shifted_avx512(float *p, long n, float shift, uint16_t *bf16) {
    const __m512 s16 = _mm512_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(p + i), s16));
        if (bf16) _mm256_storeu_si256((__m256i *)(bf16 + i), bf16x16(e)); else _mm512_storeu_ps(p + i, e);
        // The portable loop adds eight lanes at a time: the low eight, then the high eight.
        acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
        acc = _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1)));
    }
    if (i + 8 <= n) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + i), _mm256_set1_ps(shift)));
        if (bf16) store_bf16x8(bf16 + i, e); else _mm256_storeu_ps(p + i, e);
        acc = _mm256_add_ps(acc, e);
        i += 8;
    }
    return exp_tail_avx2(p + i, n - i, shift, bf16 ? bf16 + i : NULL, lane_sum8(acc));
}

AVX512 static void to_bf16_avx512(const float *src, uint16_t *dst, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(dst + i), bf16x16(_mm512_loadu_ps(src + i)));
    to_bf16_avx2(src + i, dst + i, n - i);
}

#endif

float hd_scale_max(int level, float *p, long n, float scale) {
#if defined(__x86_64__)
    if (level >= 2) return scale_max_avx512(p, n, scale);
    if (level == 1) return scale_max_avx2(p, n, scale);
#endif
    return scale_max_scalar(p, n, scale);
}

float hd_exp_shifted(int level, float *p, long n, float shift, uint16_t *bf16) {
#if defined(__x86_64__)
    if (level >= 2) return exp_shifted_avx512(p, n, shift, bf16);
    if (level == 1) return exp_shifted_avx2(p, n, shift, bf16);
#endif
    return exp_shifted_scalar(p, n, shift, bf16);
}

void hd_to_bfloat16(int level, const float *src, uint16_t *dst, long n) {
#if defined(__x86_64__)
    if (level >= 2) { to_bf16_avx512(src, dst, n); return; }
    if (level == 1) { to_bf16_avx2(src, dst, n); return; }
#endif
    to_bf16_scalar(src, dst, n);
}

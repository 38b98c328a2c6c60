// Attention for narrow heads (d, dv <= 32), where a matrix product per tile spends more on packing and
// clearing its operands than on arithmetic (the demo model's top level, 4096 tokens, two heads of 16,
// batch 2: the tiled products took 45 ms, 65% of it packing and clearing; `hidiff bench ops --filter
// narrow`). Sixteen query rows live in the lanes of a vector and walk the keys one at a time: Q^T's
// columns stay in registers, each key's scores are one fused multiply-add chain over the head's columns
// (the key's values broadcast from memory), and the softmax and the weighted sum of V run along the lanes
// with no horizontal operation. Keys go in blocks of 256 with an online softmax (a running maximum per
// row; earlier sums rescaled when it grows).
//
// Every level computes the same bits as the scalar one (same operations, same order per row).
#pragma clang fp contract(off)

#include "CVectorKernels.h"
#include "Internal.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define KEY_BLOCK (HD_NARROW_SCRATCH_FLOATS / 16)

/// The scalar reference: one query row at a time, the same blocks and operations as a vector lane.
/// k is [lk][ldk] (the head's columns first), v is [lk][ldv].
static void narrow_scalar(const float *q, long ldq, long r0, long r1, const float *k, long ldk, const float *v,
                          long ldv, long lk, long d, long dv, float scale, int causal, int roundWeights,
                          float *scores, float *o, long ldo) {
    for (long row = r0; row < r1; row++) {
        const float *qr = q + row * ldq;
        long visible = causal ? (row + 1 < lk ? row + 1 : lk) : lk;
        float m = -INFINITY, sum = 0, acc[32] = {0};
        for (long j0 = 0; j0 < visible; j0 += KEY_BLOCK) {
            long j1 = j0 + KEY_BLOCK < visible ? j0 + KEY_BLOCK : visible;
            float bm = -INFINITY;
            for (long j = j0; j < j1; j++) {
                const float *kj = k + j * ldk;
                float s = qr[0] * kj[0];
                for (long t = 1; t < d; t++) s = fmaf(qr[t], kj[t], s);
                s = s * scale;
                scores[j - j0] = s;
                if (s > bm) bm = s;
            }
            float nm = bm > m ? bm : m;
            if (nm == -INFINITY) continue;
            if (nm > m) {
                float alpha = m == -INFINITY ? 0 : exp_scalar(m - nm);
                sum = sum * alpha;
                for (long t = 0; t < dv; t++) acc[t] = acc[t] * alpha;
                m = nm;
            }
            for (long j = j0; j < j1; j++) {
                float x = exp_scalar(scores[j - j0] - m);
                sum = sum + x;
                if (roundWeights) x = round_bf16_scalar(x);
                const float *vj = v + j * ldv;
                for (long t = 0; t < dv; t++) acc[t] = fmaf(x, vj[t], acc[t]);
            }
        }
        float inv = sum > 0 ? 1 / sum : 0;
        for (long t = 0; t < dv; t++) o[(row - r0) * ldo + t] = acc[t] * inv;
    }
}

#if defined(__x86_64__)
/// Sixteen rows per vector (a last block of fewer repeats its last row in the spare lanes and writes only
/// its own rows). scores holds KEY_BLOCK x 16 floats.
AVX512 static inline __attribute__((always_inline)) void
narrow_avx512_body(const float *q, long ldq, long r0, long r1, const float *k, long ldk, const float *v, long ldv,
                   long lk, const long d, const long dv, float scale, int causal, int roundWeights, float *scores,
                   float *o, long ldo) {
    const __m512 scale16 = _mm512_set1_ps(scale);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (long row = r0; row < r1; row += 16) {
        int rows = r1 - row < 16 ? (int)(r1 - row) : 16;
        // Q^T for these rows: column t of the head in lanes (row indices clamped to the last real row).
        __m512i idx = _mm512_min_epi32(lane, _mm512_set1_epi32(rows - 1));
        __m512i offsets = _mm512_mullo_epi32(idx, _mm512_set1_epi32((int)ldq));
        __m512 qt[32];
        for (long t = 0; t < d; t++) qt[t] = _mm512_i32gather_ps(offsets, q + row * ldq + t, 4);
        // Keys a row may see: all, or (causal) up to its own index; the block's last row sees the most.
        __m512i rowIndex = _mm512_add_epi32(_mm512_set1_epi32((int)row), idx);
        long last = row + rows - 1;
        long visibleMax = causal ? (last + 1 < lk ? last + 1 : lk) : lk;
        __m512 m = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        __m512 acc[32];
        for (long t = 0; t < dv; t++) acc[t] = _mm512_setzero_ps();
        for (long j0 = 0; j0 < visibleMax; j0 += KEY_BLOCK) {
            long j1 = j0 + KEY_BLOCK < visibleMax ? j0 + KEY_BLOCK : visibleMax;
            __m512 bm = _mm512_set1_ps(-INFINITY);
            for (long j = j0; j < j1; j++) {
                const float *kj = k + j * ldk;
                __m512 s = _mm512_mul_ps(qt[0], _mm512_set1_ps(kj[0]));
                for (long t = 1; t < d; t++) s = _mm512_fmadd_ps(qt[t], _mm512_set1_ps(kj[t]), s);
                s = _mm512_mul_ps(s, scale16);
                _mm512_storeu_ps(scores + (j - j0) * 16, s);
                // Lanes whose row does not see key j (causal) leave it out of the maximum.
                __mmask16 seen = causal ? _mm512_cmp_epi32_mask(_mm512_set1_epi32((int)j), rowIndex, _MM_CMPINT_LE) : 0xFFFF;
                bm = _mm512_mask_mov_ps(bm, seen & _mm512_cmp_ps_mask(s, bm, _CMP_GT_OQ), s);
            }
            __m512 nm = _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(bm, m, _CMP_GT_OQ), bm);
            __mmask16 live = _mm512_cmp_ps_mask(nm, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ);
            __mmask16 grew = live & _mm512_cmp_ps_mask(nm, m, _CMP_GT_OQ);
            if (grew) {
                // alpha = exp(m - nm) where m was finite, 0 where it was -infinity, 1 where nothing grew.
                __mmask16 wasFinite = _mm512_cmp_ps_mask(m, _mm512_set1_ps(-INFINITY), _CMP_NEQ_OQ);
                __m512 alpha = _mm512_maskz_mov_ps(wasFinite, exp16(_mm512_sub_ps(m, nm)));
                alpha = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), grew, alpha);
                sum = _mm512_mask_mul_ps(sum, grew, sum, alpha);
                for (long t = 0; t < dv; t++) acc[t] = _mm512_mask_mul_ps(acc[t], grew, acc[t], alpha);
                m = _mm512_mask_mov_ps(m, grew, nm);
            }
            // The weights first, then the weighted sum of V: two loops, so that neither needs the other's
            // registers (the exponential's constants, the accumulators).
            for (long j = j0; j < j1; j++) {
                __mmask16 seen = live & (causal ? _mm512_cmp_epi32_mask(_mm512_set1_epi32((int)j), rowIndex, _MM_CMPINT_LE) : 0xFFFF);
                __m512 x = _mm512_maskz_mov_ps(seen, exp16(_mm512_sub_ps(_mm512_loadu_ps(scores + (j - j0) * 16), m)));
                sum = _mm512_add_ps(sum, x);
                if (roundWeights) x = round_bf16x16(x);
                _mm512_storeu_ps(scores + (j - j0) * 16, x);
            }
            for (long j = j0; j < j1; j++) {
                // Masked, so that a key a row does not see adds nothing even against an infinite value.
                __mmask16 seen = live & (causal ? _mm512_cmp_epi32_mask(_mm512_set1_epi32((int)j), rowIndex, _MM_CMPINT_LE) : 0xFFFF);
                __m512 x = _mm512_loadu_ps(scores + (j - j0) * 16);
                const float *vj = v + j * ldv;
                for (long t = 0; t < dv; t++) acc[t] = _mm512_mask3_fmadd_ps(x, _mm512_set1_ps(vj[t]), acc[t], seen);
            }
        }
        float sums[16], lanes[16];
        _mm512_storeu_ps(sums, sum);
        for (long t = 0; t < dv; t++) {
            _mm512_storeu_ps(lanes, acc[t]);
            for (int r = 0; r < rows; r++) o[(row - r0 + r) * ldo + t] = lanes[r] * (sums[r] > 0 ? 1 / sums[r] : 0);
        }
    }
}

/// The kernel with the head widths as constants for the widths it serves in production (up to
/// `narrowHeadWidth`, 16), so that Q^T's columns and the accumulators are unrolled into registers (with
/// the widths as variables they lived on the stack, one extra load per multiply-add: 59 ms where the tiled
/// products took 45). Other widths (tests reach 32) run the general body.
#define NARROW_WIDTH(NAME, D)                                                                              \
    AVX512 static void NAME(const float *q, long ldq, long r0, long r1, const float *k, long ldk,          \
                             const float *v, long ldv, long lk, float scale, int causal, int roundWeights,  \
                             float *scores, float *o, long ldo) {                                          \
        narrow_avx512_body(q, ldq, r0, r1, k, ldk, v, ldv, lk, D, D, scale, causal, roundWeights, scores,   \
                           o, ldo);                                                                        \
    }
NARROW_WIDTH(narrow_avx512_2, 2)
NARROW_WIDTH(narrow_avx512_4, 4)
NARROW_WIDTH(narrow_avx512_8, 8)
NARROW_WIDTH(narrow_avx512_16, 16)

AVX512 static void narrow_avx512(const float *q, long ldq, long r0, long r1, const float *k, long ldk,
                                  const float *v, long ldv, long lk, long d, long dv, float scale, int causal,
                                  int roundWeights, float *scores, float *o, long ldo) {
    if (d == dv) {
        switch (d) {
        case 2: narrow_avx512_2(q, ldq, r0, r1, k, ldk, v, ldv, lk, scale, causal, roundWeights, scores, o, ldo); return;
        case 4: narrow_avx512_4(q, ldq, r0, r1, k, ldk, v, ldv, lk, scale, causal, roundWeights, scores, o, ldo); return;
        case 8: narrow_avx512_8(q, ldq, r0, r1, k, ldk, v, ldv, lk, scale, causal, roundWeights, scores, o, ldo); return;
        case 16: narrow_avx512_16(q, ldq, r0, r1, k, ldk, v, ldv, lk, scale, causal, roundWeights, scores, o, ldo); return;
        }
    }
    narrow_avx512_body(q, ldq, r0, r1, k, ldk, v, ldv, lk, d, dv, scale, causal, roundWeights, scores, o, ldo);
}
#endif

void hd_attention_narrow(int level, const float *q, long ldq, long r0, long r1, const float *k, long ldk,
                         const float *v, long ldv, long lk, long d, long dv, float scale, int causal,
                         int roundWeights, float *scratch, float *o, long ldo) {
    if (lk <= 0 || r1 <= r0) return;
#if defined(__x86_64__)
    if (level >= 2) {
        narrow_avx512(q, ldq, r0, r1, k, ldk, v, ldv, lk, d, dv, scale, causal, roundWeights, scratch, o, ldo);
        return;
    }
#endif
    narrow_scalar(q, ldq, r0, r1, k, ldk, v, ldv, lk, d, dv, scale, causal, roundWeights, scratch, o, ldo);
}

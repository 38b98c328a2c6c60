// bfloat16 attention's two products on AMX tiles (Intel's matrix unit), written for attention's shapes.
//
// oneDNN's matmul primitive reached a fifth to a third of AMX's rate on attention's small-depth products
// (per call it re-lays the key block into its tile order and builds stream and memory objects). Here the keys
// and values are laid out in tile order once per call (`hd_amx_pack_keys`, `hd_amx_pack_values`) and each
// product is a loop of tile loads, TDPBF16PS and stores. The tile instructions sum bfloat16 products in
// float32, as oneDNN's AMX kernels do (the same instruction).
//
// Every tile is 16 rows of 64 bytes: 16 x 32 bfloat16 for the left operand, 16 pairs x 16 columns x 2 for
// the right one (pairs along the depth, as the instruction wants), 16 x 16 float32 for a result.

#include "CVectorKernels.h"
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

typedef struct {
    uint8_t palette;
    uint8_t startRow;
    uint8_t reserved[14];
    uint16_t columnBytes[16];
    uint8_t rows[16];
} TileConfig;

static int detect_amx(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned amxBF16 = 1u << 22, amxTile = 1u << 24;
    if ((d & (amxBF16 | amxTile)) != (amxBF16 | amxTile)) return 0;
    // Linux (5.16+) hands out the 8 KB tile state only to processes that ask: ARCH_REQ_XCOMP_PERM for
    // XFEATURE_XTILEDATA. Without it the first tile instruction faults.
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

// Every tile 16 x 64 bytes; loaded at the start of each call because other code on the thread (oneDNN's
// kernels) configures the tiles its own way.
AMX static void configure(void) {
    TileConfig config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.columnBytes[t] = 64;
        config.rows[t] = 16;
    }
    _tile_loadconfig(&config);
}
#endif

static _Atomic int amxState = -1;

int hd_amx_available(void) {
    int state = atomic_load_explicit(&amxState, memory_order_relaxed);
    if (state < 0) {
#if defined(__x86_64__)
        state = detect_amx();
#else
        state = 0;
#endif
        atomic_store_explicit(&amxState, state, memory_order_relaxed);
    }
    return state;
}

void hd_amx_pack_keys(const uint16_t *k, long lk, long ldk, long dp, uint16_t *out) {
    // out[g][s][p][n][e] = k[16 g + n][32 s + 2 p + e]: word (n, 16 s + p) of 16 key rows, transposed.
    const long groups = (lk + 31) / 32 * 2, steps = dp / 32;
    const uint32_t *words = (const uint32_t *)k;
    uint32_t *dst = (uint32_t *)out;
    for (long g = 0; g < groups; g++) {
        for (long s = 0; s < steps; s++) {
            uint32_t *tile = dst + (g * steps + s) * 256;
            for (long n = 0; n < 16; n++) {
                long key = g * 16 + n;
                if (key < lk) {
                    const uint32_t *row = words + key * (ldk / 2) + s * 16;
                    for (long p = 0; p < 16; p++) tile[p * 16 + n] = row[p];
                } else {
                    for (long p = 0; p < 16; p++) tile[p * 16 + n] = 0;
                }
            }
        }
    }
}

void hd_amx_pack_values(const uint16_t *v, long lk, long ldv, long dv, uint16_t *out) {
    // out[S][cg][p][c][e] = v[32 S + 2 p + e][16 cg + c], zero beyond lk rows and dv columns.
    const long steps = (lk + 31) / 32, groups = (dv + 15) / 16;
    for (long S = 0; S < steps; S++) {
        for (long cg = 0; cg < groups; cg++) {
            uint16_t *tile = out + (S * groups + cg) * 512;
            for (long p = 0; p < 16; p++) {
                for (long e = 0; e < 2; e++) {
                    long key = S * 32 + 2 * p + e;
                    for (long c = 0; c < 16; c++) {
                        long column = cg * 16 + c;
                        tile[(p * 16 + c) * 2 + e] = key < lk && column < dv ? v[key * ldv + column] : 0;
                    }
                }
            }
        }
    }
}

#if defined(__x86_64__)
AMX static void scores_amx(const uint16_t *q, long rows, long dp, const uint16_t *kp, long n, float *s,
                           long lds) {
    configure();
    const long steps = dp / 32, qStride = dp * 2, sStride = lds * 4;
    for (long r = 0; r < rows; r += 32) {
        const uint16_t *q0 = q + r * dp, *q1 = q0 + 16 * dp;
        float *s0 = s + r * lds, *s1 = s0 + 16 * lds;
        for (long j = 0; j < n; j += 32) {
            const uint16_t *b0 = kp + (j / 16) * steps * 512, *b1 = b0 + steps * 512;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (long t = 0; t < steps; t++) {
                _tile_loadd(4, q0 + t * 32, qStride);
                _tile_loadd(5, q1 + t * 32, qStride);
                _tile_loadd(6, b0 + t * 512, 64);
                _tile_loadd(7, b1 + t * 512, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            _tile_stored(0, s0 + j, sStride);
            _tile_stored(1, s0 + j + 16, sStride);
            _tile_stored(2, s1 + j, sStride);
            _tile_stored(3, s1 + j + 16, sStride);
        }
    }
    _tile_release();
}

AMX static void weighted_sum_amx(const uint16_t *w, long rows, long ldw, const uint16_t *vp, long n, long dvp,
                                 float *o, long ldo, int accumulate) {
    configure();
    const long steps = n / 32, groups = dvp / 16, wStride = ldw * 2, oStride = ldo * 4;
    for (long r = 0; r < rows; r += 32) {
        const uint16_t *w0 = w + r * ldw, *w1 = w0 + 16 * ldw;
        float *o0 = o + r * ldo, *o1 = o0 + 16 * ldo;
        long c = 0;
        for (; c + 32 <= dvp; c += 32) {
            if (accumulate) {
                _tile_loadd(0, o0 + c, oStride);
                _tile_loadd(1, o0 + c + 16, oStride);
                _tile_loadd(2, o1 + c, oStride);
                _tile_loadd(3, o1 + c + 16, oStride);
            } else {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
            }
            for (long t = 0; t < steps; t++) {
                const uint16_t *b = vp + (t * groups + c / 16) * 512;
                _tile_loadd(4, w0 + t * 32, wStride);
                _tile_loadd(5, w1 + t * 32, wStride);
                _tile_loadd(6, b, 64);
                _tile_loadd(7, b + 512, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            _tile_stored(0, o0 + c, oStride);
            _tile_stored(1, o0 + c + 16, oStride);
            _tile_stored(2, o1 + c, oStride);
            _tile_stored(3, o1 + c + 16, oStride);
        }
        if (c < dvp) {
            // One column tile left (dvp = 16 mod 32).
            if (accumulate) {
                _tile_loadd(0, o0 + c, oStride);
                _tile_loadd(2, o1 + c, oStride);
            } else {
                _tile_zero(0);
                _tile_zero(2);
            }
            for (long t = 0; t < steps; t++) {
                _tile_loadd(4, w0 + t * 32, wStride);
                _tile_loadd(5, w1 + t * 32, wStride);
                _tile_loadd(6, vp + (t * groups + c / 16) * 512, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(2, 5, 6);
            }
            _tile_stored(0, o0 + c, oStride);
            _tile_stored(2, o1 + c, oStride);
        }
    }
    _tile_release();
}
#endif

int hd_amx_scores(const uint16_t *q, long rows, long dp, const uint16_t *kp, long n, float *s, long lds) {
#if defined(__x86_64__)
    if (hd_amx_available()) {
        scores_amx(q, rows, dp, kp, n, s, lds);
        return 1;
    }
#endif
    return 0;
}

int hd_amx_weighted_sum(const uint16_t *w, long rows, long ldw, const uint16_t *vp, long n, long dvp, float *o,
                        long ldo, int accumulate) {
#if defined(__x86_64__)
    if (hd_amx_available()) {
        weighted_sum_amx(w, rows, ldw, vp, n, dvp, o, ldo, accumulate);
        return 1;
    }
#endif
    return 0;
}

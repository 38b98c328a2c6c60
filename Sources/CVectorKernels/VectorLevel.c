#include "CVectorKernels.h"
#include <stdatomic.h>

static int detect(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

// -1 until the first call; every call that detects writes the same value, so a race is harmless.
static _Atomic int detected = -1;

int hd_vector_level(void) {
    int level = atomic_load_explicit(&detected, memory_order_relaxed);
    if (level < 0) {
        level = detect();
        atomic_store_explicit(&detected, level, memory_order_relaxed);
    }
    return level;
}

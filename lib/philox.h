/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11): a counter-based generator, so element i of a draw is a pure function
 * of (seed, counter) and the CPU and CUDA backends produce the same numbers.
 * Header-only; compiled by both the C compiler and nvcc. */
#ifndef SSM_PHILOX_H
#define SSM_PHILOX_H
#include <stdint.h>
#include <math.h>
#include "hostdev.h"

typedef struct { uint32_t v[4]; } ssm_philox4;

SSM_HD uint32_t ssm_mulhilo32(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Ten rounds on a 128-bit counter c with a 64-bit key k. */
SSM_HD ssm_philox4 ssm_philox_block(ssm_philox4 c, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = ssm_mulhilo32(0xD2511F53u, c.v[0], &hi0);
        uint32_t lo1 = ssm_mulhilo32(0xCD9E8D57u, c.v[2], &hi1);
        ssm_philox4 n = {{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

/* The draw for counter (ctr, 0) under key = seed. */
SSM_HD ssm_philox4 ssm_philox(uint64_t seed, uint64_t ctr) {
    ssm_philox4 c = {{(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0}};
    return ssm_philox_block(c, (uint32_t)seed, (uint32_t)(seed >> 32));
}

/* Uniform in [0, 1) with 53 random bits. */
SSM_HD double ssm_philox_uniform(uint64_t seed, uint64_t ctr) {
    ssm_philox4 r = ssm_philox(seed, ctr);
    uint64_t bits = ((uint64_t)r.v[0] << 21) ^ (uint64_t)(r.v[1] >> 11);
    return (double)(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

/* Standard normal by Box-Muller on words 2 and 3 of the same draw. */
SSM_HD double ssm_philox_normal(uint64_t seed, uint64_t ctr) {
    ssm_philox4 r = ssm_philox(seed, ctr);
    double u1 = ((double)r.v[2] + 1.0) * (1.0 / 4294967296.0); /* (0, 1] */
    double u2 = (double)r.v[3] * (1.0 / 4294967296.0);         /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif

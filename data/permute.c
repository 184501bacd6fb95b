#include "permute.h"
#include <stdlib.h>
#include <string.h>
#include "log.h"

void ssm_perm_bitreversal(int64_t n, int64_t *perm) {
    SSM_CHECK(n > 0 && n <= (INT64_C(1) << 40), "perm_bitreversal: n = %lld", (long long)n);
    int m = 0;
    while ((INT64_C(1) << m) < n) m++;
    int64_t k = 0;
    for (int64_t j = 0; j < (INT64_C(1) << m); j++) {
        int64_t r = 0;
        for (int b = 0; b < m; b++) r |= ((j >> b) & 1) << (m - 1 - b);
        if (r < n) perm[k++] = r;
    }
}

/* MT19937 as numpy's legacy RandomState seeds it from an integer (init_genrand). */
typedef struct {
    uint32_t s[624];
    int i;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed) {
    m->s[0] = seed;
    for (uint32_t i = 1; i < 624; i++)
        m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + i;
    m->i = 624;
}

static uint32_t mt_next(mt19937 *m) {
    if (m->i >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % 624] & 0x7fffffffu);
            m->s[k] = m->s[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
        }
        m->i = 0;
    }
    uint32_t y = m->s[m->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

void ssm_perm_numpy(uint32_t seed, int64_t n, int64_t *perm) {
    SSM_CHECK(n > 0 && n <= UINT32_MAX, "perm_numpy: n = %lld", (long long)n);
    mt19937 m;
    mt_seed(&m, seed);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    /* numpy's shuffle: i from n-1 down to 1 swaps with a uniform j in [0, i], drawn by
     * masked rejection of 32-bit outputs (random_interval) */
    for (int64_t i = n - 1; i > 0; i--) {
        uint32_t mask = (uint32_t)i, j;
        for (int s = 1; s < 32; s *= 2) mask |= mask >> s;
        while ((j = mt_next(&m) & mask) > (uint32_t)i) {}
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void ssm_dataset_permute(ssm_dataset *d, const int64_t *perm, int64_t n) {
    SSM_CHECK(!d->has_targets, "dataset_permute(%s): per-position targets", d->name);
    int64_t C = d->channels;
    int32_t *tmp = malloc(sizeof(int32_t) * (size_t)(n * C));
    SSM_CHECK(tmp, "dataset_permute: out of memory");
    for (int64_t j = 0; j < d->n_seqs; j++) {
        SSM_CHECK(d->off[j + 1] - d->off[j] == n,
                  "dataset_permute(%s): sequence %lld has %lld positions, the permutation %lld",
                  d->name, (long long)j, (long long)(d->off[j + 1] - d->off[j]), (long long)n);
        int32_t *x = d->tokens + d->off[j] * C;
        for (int64_t t = 0; t < n; t++) memcpy(tmp + t * C, x + perm[t] * C, sizeof(int32_t) * (size_t)C);
        memcpy(x, tmp, sizeof(int32_t) * (size_t)(n * C));
    }
    free(tmp);
}

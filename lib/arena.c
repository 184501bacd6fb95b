#include "arena.h"
#include <stdlib.h>
#include "kernels.h"
#include "log.h"

#define ARENA_ALIGN 256
#define ARENA_MIN_CHUNK ((size_t)1 << 20)
#define ARENA_MAX_CHUNKS 64

typedef struct {
    char *base;
    size_t size, used;
} chunk;

typedef struct {
    chunk chunks[ARENA_MAX_CHUNKS];
    int n;          /* chunks in use; allocation goes to chunks[n - 1] */
    size_t used;    /* bytes handed out since the last reset */
    size_t peak;
} pool;

struct ssm_arena {
    pool pools[SSM_N_DEVICES];
    uint64_t system_allocs;
};

ssm_arena *ssm_arena_new(void) {
    ssm_arena *a = calloc(1, sizeof *a);
    SSM_CHECK(a, "arena: out of memory");
    return a;
}

static void pool_release(pool *p, ssm_device dev) {
    for (int i = 0; i < p->n; i++) ssm_kernels_for(dev)->free(p->chunks[i].base);
    p->n = 0;
}

void ssm_arena_free(ssm_arena *a) {
    if (!a) return;
    for (int d = 0; d < SSM_N_DEVICES; d++) pool_release(&a->pools[d], (ssm_device)d);
    free(a);
}

/* A new chunk of at least `need` bytes; SSM_ERR (ssm_last_error) when the device has
 * no room. When doubling the last chunk does not fit, exactly `need` is tried. */
static int pool_grow(ssm_arena *a, pool *p, ssm_device dev, size_t need) {
    SSM_CHECK(p->n < ARENA_MAX_CHUNKS, "arena: more than %d chunks on %s", ARENA_MAX_CHUNKS,
              ssm_device_name(dev));
    size_t size = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
    if (p->n > 0 && size < 2 * p->chunks[p->n - 1].size) size = 2 * p->chunks[p->n - 1].size;
    void *base = ssm_kernels_for(dev)->alloc(size);
    if (!base && size > need) base = ssm_kernels_for(dev)->alloc(size = need);
    if (!base) return SSM_ERR;
    chunk *c = &p->chunks[p->n++];
    c->base = base;
    c->size = size;
    c->used = 0;
    a->system_allocs++;
    return SSM_OK;
}

void *ssm_arena_alloc(ssm_arena *a, ssm_device dev, size_t bytes) {
    void *p = ssm_arena_try_alloc(a, dev, bytes);
    if (!p) ssm_out_of_memory("%s: %zu bytes of per-step memory: %s", ssm_device_name(dev), bytes,
                              ssm_last_error());
    return p;
}

void *ssm_arena_try_alloc(ssm_arena *a, ssm_device dev, size_t bytes) {
    pool *p = &a->pools[dev];
    if (bytes > SIZE_MAX - ARENA_ALIGN) {
        ssm_error("the size overflows");
        return NULL;
    }
    size_t need = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (need == 0) need = ARENA_ALIGN;
    if ((p->n == 0 || p->chunks[p->n - 1].used + need > p->chunks[p->n - 1].size) &&
        pool_grow(a, p, dev, need) != SSM_OK)
        return NULL;
    chunk *c = &p->chunks[p->n - 1];
    void *ptr = c->base + c->used;
    c->used += need;
    p->used += need;
    if (p->used > p->peak) p->peak = p->used;
    return ptr;
}

void ssm_arena_reset(ssm_arena *a) {
    for (int d = 0; d < SSM_N_DEVICES; d++) {
        pool *p = &a->pools[d];
        if (p->n > 1) { /* fold into one chunk big enough for the whole step */
            pool_release(p, (ssm_device)d);
            if (pool_grow(a, p, (ssm_device)d, p->peak) != SSM_OK)
                ssm_out_of_memory("%s: one chunk of %zu bytes for the step's per-step memory: %s",
                                  ssm_device_name((ssm_device)d), p->peak, ssm_last_error());
        }
        for (int i = 0; i < p->n; i++) p->chunks[i].used = 0;
        p->used = 0;
    }
}

uint64_t ssm_arena_system_allocs(const ssm_arena *a) { return a->system_allocs; }
size_t ssm_arena_used(const ssm_arena *a, ssm_device dev) { return a->pools[dev].used; }
size_t ssm_arena_peak(const ssm_arena *a, ssm_device dev) { return a->pools[dev].peak; }

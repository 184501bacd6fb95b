#include "half.h"
#include <string.h>

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ssm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return from_bits(sign | 0x7f800000u | man << 13); /* inf, NaN */
    if (exp) return from_bits(sign | (exp + 112) << 23 | man << 13);  /* 127 - 15 = 112 */
    /* zero or subnormal: man * 2^-24, exact in f32 */
    float v = (float)man * from_bits(0x33800000u); /* 2^-24 */
    return sign ? -v : v;
}

uint16_t ssm_f32_to_f16(float f) {
    uint32_t u = bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff)); /* NaN: quiet */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                                  /* below 2^-14: subnormal or 0 */
        /* a as a multiple of 2^-24, rounded to nearest even: add the hidden bit and shift */
        if (a < 0x33000000u) return (uint16_t)sign; /* below 2^-25: rounds to 0 */
        uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* value = m * 2^(e - 150); want units of 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q); /* q = 0x400 carries into the smallest normal */
    }
    /* normal: rebias, round the 13 dropped bits to nearest even (a carry may reach inf) */
    uint32_t r = a - 0x38000000u; /* (127 - 15) << 23 */
    uint32_t q = r >> 13, rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

float ssm_bf16_to_f32(uint16_t h) { return from_bits((uint32_t)h << 16); }

uint16_t ssm_f32_to_bf16(float f) {
    uint32_t u = bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* NaN: quiet */
    u += 0x7fff + ((u >> 16) & 1); /* nearest, ties to even; overflow gives inf */
    return (uint16_t)(u >> 16);
}

void ssm_f16_decode(const uint8_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = ssm_f16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
}

void ssm_bf16_decode(const uint8_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = ssm_bf16_to_f32((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
}

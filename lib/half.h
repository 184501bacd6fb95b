/* IEEE binary16 (F16) and bfloat16 (BF16) storage formats, as safetensors files carry
 * them: conversion to and from f32 on the host (training stays f32). To f32 is exact;
 * from f32 rounds to nearest, ties to even, keeps infinities, quiets NaNs (payload
 * truncated, sign kept) and, for F16, produces subnormals and overflows to inf. */
#ifndef SSM_HALF_H
#define SSM_HALF_H
#include <stddef.h>
#include <stdint.h>

float ssm_f16_to_f32(uint16_t h);
uint16_t ssm_f32_to_f16(float f);
float ssm_bf16_to_f32(uint16_t h);
uint16_t ssm_f32_to_bf16(float f);
/* n little-endian 16-bit values at src (any alignment) to floats */
void ssm_f16_decode(const uint8_t *src, float *dst, size_t n);
void ssm_bf16_decode(const uint8_t *src, float *dst, size_t n);

#endif

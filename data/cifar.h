/* CIFAR-10 in its binary version (cifar-10-batches-bin: data_batch_1.bin ..
 * data_batch_5.bin, test_batch.bin): records of 3073 bytes, a label byte 0-9 then the
 * 32x32 image as 1024 red, 1024 green and 1024 blue bytes, rows top to bottom.
 * Each image becomes one sequence of 1024 positions in raster order:
 *   grayscale (LRA Image): one channel, the luma of Pillow's convert("L") (what
 *     torchvision's Grayscale does), features normalised as S4's
 *     Normalize(122.6/255, 61.0/255);
 *   colour (sCIFAR): three channels (R, G, B) per position, normalised as S4's
 *     Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)).
 * Token values stay the bytes (vocabulary 256), so an embedding encoder sees LRA's
 * integer pixels and a linear encoder the normalised features. */
#ifndef SSM_CIFAR_H
#define SSM_CIFAR_H
#include <stdint.h>
#include "dataset.h"

enum { SSM_CIFAR_RECORD = 3073, SSM_CIFAR_PIXELS = 1024 };

/* Pillow's ITU-R 601-2 luma in 16-bit fixed point (libImaging/Convert.c, L24), rounded
 * to the nearest level. */
static inline int32_t ssm_cifar_luma(int r, int g, int b) {
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/* The records of files paths[0..n_paths), in order, as one dataset. Each file holds a
 * whole number (>= 1) of records; the released ones hold 10,000. Errors name the file
 * and the record (a partial record, a label outside 0-9) or the missing file. */
int ssm_cifar_read(const char *const *paths, int n_paths, int grayscale, ssm_dataset **out);

#endif

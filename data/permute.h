/* Fixed reorderings of the positions of image sequences: permuted sequential MNIST
 * (and CIFAR) as the S4 repository builds them. perm[t] is the pixel that position t
 * shows, i.e. PyTorch's x[perm]. */
#ifndef SSM_PERMUTE_H
#define SSM_PERMUTE_H
#include <stdint.h>
#include "dataset.h"

/* S4's permutations.bitreversal_permutation(n): the bit-reversal permutation of the next
 * power of two N >= n, keeping the indices below n in their order. n = 784 (MNIST)
 * gives 0, 512, 256, 768, 128, 640, 384, 64, 576, ... */
void ssm_perm_bitreversal(int64_t n, int64_t *perm);

/* numpy.random.RandomState(seed).permutation(n), bit for bit (MT19937 and numpy's
 * legacy shuffle): the fixed random permutation of earlier psMNIST papers, which S4's
 * basic.py keeps in a comment with seed 92916. */
void ssm_perm_numpy(uint32_t seed, int64_t n, int64_t *perm);

/* Reorder every sequence of d (each must have n positions): new[t] = old[perm[t]],
 * all channels of a position together. */
void ssm_dataset_permute(ssm_dataset *d, const int64_t *perm, int64_t n);

#endif

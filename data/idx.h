/* Image classification sets in the IDX format of MNIST and Fashion-MNIST (Debian's
 * dataset-fashion-mnist: /usr/share/datasets/fashion-mnist, the idx3/idx1 ubyte.gz files), read
 * through zlib so gzipped and plain files both work. Each image becomes one sequence
 * of rows x cols pixel bytes (0..255) in raster order: sequential (Fashion-)MNIST. */
#ifndef SSM_IDX_H
#define SSM_IDX_H
#include "dataset.h"

/* images: IDX3 unsigned bytes [n, rows, cols]; labels: IDX1 unsigned bytes [n]. Errors
 * name the file and what is wrong (magic number, sizes, counts, truncation). */
int ssm_idx_read(const char *images, const char *labels, ssm_dataset **out);

/* A new dataset holding examples idx[0..n) of d, in that order (feature normalisation too). */
ssm_dataset *ssm_dataset_subset(const ssm_dataset *d, const int64_t *idx, int64_t n);

#endif

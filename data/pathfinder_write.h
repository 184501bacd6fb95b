/* Pathfinder sets on disk in LRA's released layout:
 *   OUT/curv_contour_length_<L>/imgs/<b>/sample_<i>.png    8-bit grayscale
 *   OUT/curv_contour_length_<L>/metadata/<b>.npy           plain text, one line per image:
 *   imgs/<b> sample_<i>.png <i> <label> <continuity> <contour_len> <distractor_len>
 *            <paddle_len> <paddle_thickness> <margin> <n_contrasts>
 * Batch b (from 0) holds images b*batch_size .. +batch_size-1 of the seed's
 * sequence, numbered i = 0, 1, ... inside the batch, as snakes2.from_wrapper
 * numbers the images of one batch_id. */
#ifndef SSM_PATHFINDER_WRITE_H
#define SSM_PATHFINDER_WRITE_H
#include <stddef.h>
#include <stdint.h>
#include "pathfinder_gen.h"

typedef struct ssm_pathfinder_set_opts {
    int64_t n;          /* images */
    int64_t batch_size; /* images per imgs/<b> folder and metadata file */
    uint64_t seed;
    int threads;        /* OpenMP threads; 0: OpenMP's default */
    /* Called after each image from one thread at a time (may be NULL); `written`
     * counts images of this run, `skipped` those of batches already complete. */
    void (*progress)(int64_t written, int64_t skipped, int64_t total, void *arg);
    void *progress_arg;
} ssm_pathfinder_set_opts;

/* Write the set under out_dir (created as needed). A batch whose metadata file
 * exists is kept as it is (a rerun of the same command completes an
 * interrupted one); every file goes to <name>.tmp first and is renamed when
 * complete, and a batch's metadata file, written last, marks it complete.
 * SSM_ERR names the path that failed. */
int ssm_pathfinder_write_set(const ssm_pathfinder_params *p, const char *out_dir,
                             const ssm_pathfinder_set_opts *o);

/* "curv_contour_length_<contour_length>", the folder of the set. */
void ssm_pathfinder_dirname(const ssm_pathfinder_params *p, char *buf, size_t n);
/* One metadata line, without the newline. */
void ssm_pathfinder_meta_line(const ssm_pathfinder_params *p, int64_t batch, int64_t i,
                              const ssm_pathfinder_image *im, char *buf, size_t n);
/* An 8-bit grayscale PNG, written to path.tmp and renamed. */
int ssm_png_write_gray(const char *path, const uint8_t *pixels, int width, int height);

#endif

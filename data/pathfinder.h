/* LRA Pathfinder and Path-X as released (lra_release/pathfinder32, pathfinder128):
 *
 *   DIR/<difficulty>/metadata/<n>.npy   plain text despite the name, one line per image:
 *       imgs/<batch> sample_<i>.png <i> <label> <seven more numbers>
 *   DIR/<difficulty>/imgs/<batch>/sample_<i>.png   8-bit grayscale PNG, side x side
 *
 * Fields 0 and 1 give the image's path below DIR/<difficulty>, field 3 its label (0 or 1);
 * the rest is ignored, as S4's loader does. Metadata files are read in the numeric order
 * of <n> (S4 sorts them by int(stem)), lines in file order. Each image is one sequence of
 * side*side pixel bytes in raster order (vocabulary 256; linear features in [0, 1], as
 * S4's pathfinder config with center: False). */
#ifndef SSM_PATHFINDER_H
#define SSM_PATHFINDER_H
#include "dataset.h"

/* Every image of DIR/difficulty, or SSM_ERR naming the file (and metadata line) that is
 * missing or malformed: too few fields, a label other than 0/1, an image that is not a
 * side x side 8-bit grayscale PNG. A zero-byte image is skipped with a warning (the
 * release has one empty file, which S4 blacklists); *skipped (may be NULL) gets their
 * number. */
int ssm_pathfinder_read(const char *dir, const char *difficulty, int side, ssm_dataset **out,
                        int64_t *skipped);

#endif

/* Pathfinder / Path-X images (Linsley et al. 2018; LRA's Pathfinder tasks): a C
 * port of drewlinsley/pathfinder snakes2.from_wrapper. Each image holds two
 * target "snakes" (chains of short paddles), short distractor snakes and two
 * marker discs; label 1 when both markers sit on the tips of one snake.
 *
 * The sampling follows the original (docs/DATA.md lists every difference):
 * label and margin per image; a first paddle on a free pixel, the second one
 * seed_distance away; contour_length - 1 extensions per snake, each endpoint
 * drawn from candidates on a circle with probability proportional to
 * (1 - dilated occupancy) * max(cos(min(|dtheta| * continuity, pi/2)), 0)^2,
 * a paddle retried when its occupancy mask overlaps (mask + m > 1.8), the pair
 * redrawn when retries run out; distractor snakes while >= 1% of the image is
 * free; markers at the tips the label names.
 *
 * Rendering is a supersampled box filter instead of PIL lines + Lanczos, and
 * one rule is added so that the label is a fact of the pixels, with
 * r^2 = ssm_pathfinder_link_r2(margin) and distances between centres of
 * non-zero pixels: each paddle of a target snake comes within r of that
 * snake's earlier ink; objects (snakes, a target snake with its markers) whose
 * ink comes within r of each other form a group, and nothing may join the two
 * target snakes' groups. Joining non-zero pixels closer than r therefore
 * connects the two markers exactly when the label is 1.
 *
 * Image i depends only on (seed, i): its draws come from a Philox stream with
 * its own domain and i in the counter, so any thread count gives the same bytes. */
#ifndef SSM_PATHFINDER_GEN_H
#define SSM_PATHFINDER_GEN_H
#include <stdint.h>

enum { SSM_DOMAIN_PATHFINDER = 0x50464e44u }; /* "PFND" */
#define SSM_PF_MAX_LIST 4

/* The original's Args, under its names. */
typedef struct ssm_pathfinder_params {
    int window_size;         /* square images, window_size^2 pixels */
    int padding;             /* occupied border of the mask */
    int antialias_scale;     /* the original's supersampling; fixes the paddle ends' rounding
                              * and the markers' offset (see docs/DATA.md) */
    int seed_distance;       /* between the two first paddles' tails */
    double marker_radius;
    int contour_length;      /* paddles per target snake */
    double continuity;
    int distractor_length;   /* paddles per distractor snake */
    int num_distractor_snakes;
    int paddle_length;
    double paddle_thickness;
    int paddle_margin[SSM_PF_MAX_LIST], n_paddle_margin;          /* one drawn per image */
    double snake_contrast[SSM_PF_MAX_LIST];                      /* per snake */
    int n_snake_contrast;
    double paddle_contrast[SSM_PF_MAX_LIST];                     /* per target paddle */
    int n_paddle_contrast;
    int max_paddle_retrial;             /* original 2 */
    int max_distractor_contour_retrial; /* original 4 */
    int use_single_paddles;             /* single-paddle distractors (LRA: off) */
    int supersample;                    /* our rasteriser's samples per pixel side */
} ssm_pathfinder_params;

/* LRA's settings for window 32 (pathfinder32) or 128 (pathfinder128, Path-X);
 * returns 0 for another size. */
int ssm_pathfinder_preset(int resolution, ssm_pathfinder_params *p);
/* SSM_OK, or SSM_ERR naming the first bad field. */
int ssm_pathfinder_check(const ssm_pathfinder_params *p);
/* The squared link/clearance distance for a margin (see above). */
int ssm_pathfinder_link_r2(int margin);

typedef struct ssm_pathfinder_image {
    uint8_t *pixels;      /* window_size^2, row-major, owned by the workspace */
    int label;            /* 1: the markers sit on one snake */
    int margin;           /* the paddle margin drawn for this image */
    int marker_y[2], marker_x[2]; /* the two marker centres (pixel containing them) */
    int n_distractors;    /* distractor snakes placed */
    int pair_attempts;    /* target pairs drawn until one fitted */
} ssm_pathfinder_image;

/* Per-thread scratch memory for one window size. */
typedef struct ssm_pathfinder_ws ssm_pathfinder_ws;
ssm_pathfinder_ws *ssm_pathfinder_ws_new(const ssm_pathfinder_params *p);
void ssm_pathfinder_ws_free(ssm_pathfinder_ws *w);

/* Image `index` of the set of `seed` into *out (pixels valid until the next
 * call with w). SSM_ERR only when no target pair fits after many attempts
 * (parameters that leave no room). */
int ssm_pathfinder_generate(const ssm_pathfinder_params *p, uint64_t seed, uint64_t index,
                            ssm_pathfinder_ws *w, ssm_pathfinder_image *out);

#endif

/* The Pathfinder generator (see pathfinder_gen.h): snakes2.py's two_snakes,
 * initialize_two_seeds and from_wrapper, snakes.py's make_many_snakes,
 * make_snake, seed_snake, extend_snake and get_coords_cmf, in that order.
 * Coordinates are (y, x) with y down; angles in radians, dy = sin, dx = cos. */
#include "pathfinder_gen.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "dataset.h"
#include "log.h"
#include "pathfinder_draw.h"

#define PI 3.14159265358979323846
#define MAX_PAIR_ATTEMPTS 1000000 /* the original retries forever; ~200 (32) and ~500 (128) needed */
#define FREE_LEVEL 0.3         /* np.ceil(mask - 0.3) == 0: a pixel counts as free */
#define OVERLAP_LEVEL 1.8      /* a paddle is refused when mask + m reaches this */
#define MAX_SINGLES 1000       /* single paddles: at most 150 * 123.5 / 24.5 */

enum { SLOT_A, SLOT_B, SLOT_D, SLOT_CAND, N_SLOTS };

typedef struct {
    int pivot_y, pivot_x, tip_y, tip_x, origin_y, origin_x;
    double orientation;
    pf_patch *last; /* the newest paddle: its mask joins the occupancy one step late */
} snake;

struct ssm_pathfinder_ws {
    int n, side;
    float *image, *mask;
    uint16_t *owner;                 /* object id per pixel of non-zero ink, 0: none
                                      * (the first object there) */
    uint16_t *parent;                /* union-find of objects whose ink comes within
                                      * the link radius of each other */
    int n_ids;
    uint16_t touched[64];            /* objects near the candidate being checked */
    int n_touched;
    float *save_image, *save_mask;   /* state before a distractor, for its rollback */
    uint16_t *save_owner, *save_parent;
    uint8_t *pixels;
    int *cy, *cx, *sup_y, *sup_x;    /* endpoint candidates; a paddle's support */
    double *co, *cmf;
    double *ring_y, *ring_x;         /* the candidates' circle around (0, 0) */
    int cap, n_ring;
    pf_patch slot[N_SLOTS];
    float *marker;                   /* one marker disc patch */
    int marker_side;
    int (*disc)[2], n_disc;          /* offsets within the margin (dilation kernel) */
    int (*foot)[3], n_foot;          /* seed footprint rows: dy, dx0, dx1 */
    ssm_stream rng;
    const ssm_pathfinder_params *p;
    int margin, r2;
};

/* ---- parameters ---- */

int ssm_pathfinder_preset(int resolution, ssm_pathfinder_params *p) {
    memset(p, 0, sizeof *p);
    /* snakes2_wrapper.Args defaults that LRA's docstrings leave in place */
    p->max_paddle_retrial = 2;
    p->max_distractor_contour_retrial = 4;
    p->paddle_contrast[0] = 1.0;
    p->n_paddle_contrast = 1;
    p->paddle_length = 5;
    p->n_paddle_margin = 1;
    p->n_snake_contrast = 1;
    p->padding = 1;
    p->antialias_scale = 2;
    p->contour_length = 14;
    p->supersample = 4;
    if (resolution == 32) { /* lra_benchmarks/data/pathfinder.py, Pathfinder32 */
        p->window_size = 32;
        p->paddle_margin[0] = 1;
        p->paddle_length = 2;
        p->marker_radius = 1.5;
        p->paddle_thickness = 0.5;
        p->seed_distance = 7;
        p->continuity = 1.0;
        p->distractor_length = 14 / 3;
        p->num_distractor_snakes = 20 / p->distractor_length;
        p->snake_contrast[0] = 2.0;
        p->paddle_contrast[0] = 0.75;
    } else if (resolution == 128) { /* Pathfinder128 (Path-X) */
        p->window_size = 128;
        p->paddle_margin[0] = 2;
        p->paddle_margin[1] = 3;
        p->n_paddle_margin = 2;
        p->seed_distance = 20;
        p->marker_radius = 3;
        p->paddle_thickness = 1.5;
        p->continuity = 1.8;
        /* Python 2 integer division, as the generator needs integer lengths */
        p->distractor_length = 14 / 3;
        p->num_distractor_snakes = 35 / p->distractor_length;
        p->snake_contrast[0] = 0.9;
    } else {
        return 0;
    }
    return 1;
}

int ssm_pathfinder_check(const ssm_pathfinder_params *p) {
    const char *bad = NULL;
    if (p->window_size < 8 || p->window_size > 4096) bad = "window_size (8..4096)";
    else if (p->padding < 0 || 2 * p->padding >= p->window_size) bad = "padding";
    else if (p->antialias_scale < 1 || p->antialias_scale > 16) bad = "antialias_scale (1..16)";
    else if (p->supersample < 1 || p->supersample > 16) bad = "supersample (1..16)";
    else if (p->seed_distance < 1 || 4 * p->seed_distance >= p->window_size) bad = "seed_distance";
    else if (!(p->marker_radius > 0 && p->marker_radius < p->window_size / 4.0)) bad = "marker_radius";
    else if (p->contour_length < 1 || p->contour_length > 1000) bad = "contour_length (1..1000)";
    else if (!(p->continuity >= 0 && p->continuity < 100)) bad = "continuity";
    else if (p->distractor_length < 1 || p->distractor_length > 1000) bad = "distractor_length";
    else if (p->num_distractor_snakes < 0 || p->num_distractor_snakes > 10000)
        bad = "num_distractor_snakes";
    else if (p->paddle_length < 1 || p->paddle_length > p->window_size / 4) bad = "paddle_length";
    else if (!(p->paddle_thickness > 0 && p->paddle_thickness <= 8)) bad = "paddle_thickness";
    else if (p->n_paddle_margin < 1 || p->n_paddle_margin > SSM_PF_MAX_LIST) bad = "paddle_margin";
    else if (p->n_snake_contrast < 1 || p->n_snake_contrast > SSM_PF_MAX_LIST) bad = "snake_contrast";
    else if (p->n_paddle_contrast < 1 || p->n_paddle_contrast > SSM_PF_MAX_LIST)
        bad = "paddle_contrast";
    else if (p->max_paddle_retrial < 0 || p->max_paddle_retrial > 1000) bad = "max_paddle_retrial";
    else if (p->max_distractor_contour_retrial < 0 || p->max_distractor_contour_retrial > 1000)
        bad = "max_distractor_contour_retrial";
    for (int i = 0; !bad && i < p->n_paddle_margin; i++)
        if (p->paddle_margin[i] < 1 || p->paddle_margin[i] > 8) bad = "paddle_margin (1..8)";
    for (int i = 0; !bad && i < p->n_snake_contrast; i++)
        if (!(p->snake_contrast[i] > 0 && p->snake_contrast[i] <= 100)) bad = "snake_contrast";
    for (int i = 0; !bad && i < p->n_paddle_contrast; i++)
        if (!(p->paddle_contrast[i] > 0 && p->paddle_contrast[i] <= 100)) bad = "paddle_contrast";
    if (!bad && p->num_distractor_snakes + 3 + (p->use_single_paddles ? MAX_SINGLES : 0) > 65535)
        bad = "num_distractor_snakes";
    return bad ? ssm_error("pathfinder parameters: bad %s", bad) : SSM_OK;
}

int ssm_pathfinder_link_r2(int margin) {
    /* The gap between a snake's paddles is about 2 * margin: this covers 99.6%
     * of them at margin 1 and > 99.8% at margins 2 and 3 (the rest are retried). */
    return (2 * margin + 1) * (2 * margin + 1) + 1;
}

/* ---- workspace ---- */

static int max_margin(const ssm_pathfinder_params *p) {
    int m = 0;
    for (int i = 0; i < p->n_paddle_margin; i++) m = p->paddle_margin[i] > m ? p->paddle_margin[i] : m;
    return m;
}

ssm_pathfinder_ws *ssm_pathfinder_ws_new(const ssm_pathfinder_params *p) {
    SSM_CHECK(ssm_pathfinder_check(p) == SSM_OK, "pathfinder_ws_new: %s", ssm_last_error());
    ssm_pathfinder_ws *w = calloc(1, sizeof *w);
    SSM_CHECK(w, "pathfinder_ws_new: out of memory");
    size_t n = (size_t)p->window_size, nn = n * n;
    int mm = max_margin(p);
    w->n = (int)n;
    w->side = pf_paddle_side(p->paddle_length, p->paddle_thickness, mm);
    w->image = malloc(nn * sizeof *w->image);
    w->mask = malloc(nn * sizeof *w->mask);
    w->owner = malloc(nn * sizeof *w->owner);
    w->save_image = malloc(nn * sizeof *w->image);
    w->save_mask = malloc(nn * sizeof *w->mask);
    w->save_owner = malloc(nn * sizeof *w->owner);
    w->n_ids = 3 + p->num_distractor_snakes + (p->use_single_paddles ? MAX_SINGLES : 0);
    w->parent = malloc((size_t)w->n_ids * sizeof *w->parent);
    w->save_parent = malloc((size_t)w->n_ids * sizeof *w->parent);
    w->pixels = malloc(nn);
    /* candidates: at most ceil(2 pi R) + 1 points on the circle */
    w->cap = (int)ceil(2 * PI * (p->paddle_length + mm)) + 2;
    w->marker_side = 2 * (int)ceil(p->marker_radius + 1) + 1;
    if (w->cap < w->side * w->side) w->cap = w->side * w->side;
    if (w->cap < w->marker_side * w->marker_side) w->cap = w->marker_side * w->marker_side;
    w->cy = malloc((size_t)w->cap * sizeof(int));
    w->cx = malloc((size_t)w->cap * sizeof(int));
    w->sup_y = malloc((size_t)w->cap * sizeof(int));
    w->sup_x = malloc((size_t)w->cap * sizeof(int));
    w->co = malloc((size_t)w->cap * sizeof(double));
    w->ring_y = malloc((size_t)w->cap * sizeof(double));
    w->ring_x = malloc((size_t)w->cap * sizeof(double));
    w->cmf = malloc((size_t)w->cap * sizeof(double));
    size_t ss = (size_t)w->side * (size_t)w->side;
    int ok = w->image && w->mask && w->owner && w->save_image && w->save_mask && w->save_owner &&
             w->parent && w->save_parent &&
             w->pixels && w->cy && w->cx && w->sup_y && w->sup_x && w->co && w->cmf && w->ring_y && w->ring_x;
    for (int i = 0; i < N_SLOTS; i++) {
        w->slot[i].line = malloc(ss * sizeof(float));
        w->slot[i].mask = malloc(ss * sizeof(float));
        ok = ok && w->slot[i].line && w->slot[i].mask;
    }
    w->marker = malloc((size_t)w->marker_side * (size_t)w->marker_side * sizeof(float));
    w->disc = malloc((size_t)(2 * mm + 1) * (size_t)(2 * mm + 1) * sizeof *w->disc);
    w->foot = malloc((size_t)w->side * sizeof *w->foot);
    SSM_CHECK(ok && w->marker && w->disc && w->foot, "pathfinder_ws_new: out of memory");
    return w;
}

void ssm_pathfinder_ws_free(ssm_pathfinder_ws *w) {
    if (!w) return;
    free(w->image), free(w->mask), free(w->owner);
    free(w->save_image), free(w->save_mask), free(w->save_owner);
    free(w->parent), free(w->save_parent);
    free(w->pixels);
    free(w->cy), free(w->cx), free(w->sup_y), free(w->sup_x), free(w->co), free(w->cmf);
    free(w->ring_y), free(w->ring_x);
    for (int i = 0; i < N_SLOTS; i++) free(w->slot[i].line), free(w->slot[i].mask);
    free(w->marker), free(w->disc), free(w->foot);
    free(w);
}

/* Offsets (dy, dx) with dy^2 + dx^2 <= r2, into out; returns their count. */
static int disc_offsets(int r2, int (*out)[2]) {
    int r = (int)ceil(sqrt((double)r2)), n = 0;
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dy * dy + dx * dx <= r2) out[n][0] = dy, out[n][1] = dx, n++;
    return n;
}

static void set_margin(ssm_pathfinder_ws *w, int margin) {
    w->margin = margin;
    w->r2 = ssm_pathfinder_link_r2(margin);
    /* generate_dilation_struct(margin): x^2 + y^2 <= margin^2 */
    w->n_disc = disc_offsets(margin * margin, w->disc);
    /* get_coords_cmf: np.arange(0, 360, deg_per_pixel) on the circle of
     * radius length + margin, one sample per pixel of arc */
    double R = w->p->paddle_length + margin, step = 360.0 / (2 * R * PI);
    w->n_ring = 0;
    for (int k = 0; k * step < 360.0; k++) {
        double a = k * step * PI / 180;
        w->ring_y[w->n_ring] = R * sin(a), w->ring_x[w->n_ring++] = R * cos(a);
    }
}

/* ---- random draws (numpy's randint: [lo, hi)) ---- */

static int randint(ssm_pathfinder_ws *w, int lo, int hi) {
    return lo + (int)ssm_stream_below(&w->rng, (uint64_t)(hi - lo));
}

static double degrees(ssm_pathfinder_ws *w, int lo, int hi) {
    return randint(w, lo, hi) * PI / 180;
}

/* snakes.translate_coord: rounds up. */
static void translate(int y, int x, double theta, double dist, int *oy, int *ox) {
    *oy = (int)ceil(y + dist * sin(theta));
    *ox = (int)ceil(x + dist * cos(theta));
}

static double flip_by_pi(double o) { return o < 0 ? o + PI : o - PI; }

static int inside(const ssm_pathfinder_ws *w, int y, int x) {
    return y >= 0 && y < w->n && x >= 0 && x < w->n;
}

/* ---- paddles ---- */

static void draw_paddle(ssm_pathfinder_ws *w, pf_patch *pp, int y, int x, double theta) {
    const ssm_pathfinder_params *p = w->p;
    pf_paddle(pp, w->side, y, x, theta, p->paddle_length, p->paddle_thickness, w->margin,
              p->antialias_scale, p->supersample);
}

/* The original's test: max(mask + m) < 1.8 over the image. */
static int overlaps(const ssm_pathfinder_ws *w, const pf_patch *pp) {
    for (int i = 0; i < w->side; i++)
        for (int j = 0; j < w->side; j++) {
            int y = pp->y0 + i, x = pp->x0 + j;
            if (inside(w, y, x) && w->mask[y * w->n + x] + pp->mask[i * w->side + j] >= OVERLAP_LEVEL)
                return 1;
        }
    return 0;
}

/* The in-image pixels of a coverage patch that are non-zero, into sup_y/sup_x. */
static int support(ssm_pathfinder_ws *w, const float *cov, int side, int y0, int x0) {
    int n = 0;
    for (int i = 0; i < side; i++)
        for (int j = 0; j < side; j++)
            if (cov[i * side + j] > 0 && inside(w, y0 + i, x0 + j))
                w->sup_y[n] = y0 + i, w->sup_x[n] = x0 + j, n++;
    return n;
}

static uint16_t find(ssm_pathfinder_ws *w, uint16_t a) {
    while (w->parent[a] != a) a = w->parent[a] = w->parent[w->parent[a]];
    return a;
}

/* The added rule. Objects with ink within the link radius of the support
 * become one group; refused when that would put the two target snakes (ids 1
 * and 2) in one group. *linked: ink of object id itself is within the radius.
 * The objects met are left in w->touched for join(). */
static int may_join(ssm_pathfinder_ws *w, int n_sup, uint16_t id, int *linked) {
    int link = 0, n = w->n, r = (int)ceil(sqrt((double)w->r2));
    w->n_touched = 0;
    if (n_sup == 0) return 1;
    /* Owned pixels in the support's box grown by the radius, each compared
     * with the support (cheaper than a disc around every support pixel). */
    int ya = w->sup_y[0], yb = ya, xa = w->sup_x[0], xb = xa;
    for (int k = 1; k < n_sup; k++) {
        ya = w->sup_y[k] < ya ? w->sup_y[k] : ya, yb = w->sup_y[k] > yb ? w->sup_y[k] : yb;
        xa = w->sup_x[k] < xa ? w->sup_x[k] : xa, xb = w->sup_x[k] > xb ? w->sup_x[k] : xb;
    }
    ya = ya - r < 0 ? 0 : ya - r, yb = yb + r >= n ? n - 1 : yb + r;
    xa = xa - r < 0 ? 0 : xa - r, xb = xb + r >= n ? n - 1 : xb + r;
    for (int y = ya; y <= yb; y++)
        for (int x = xa; x <= xb; x++) {
            uint16_t q = w->owner[y * n + x];
            if (!q || (q == id && link)) continue;
            int t = 0;
            if (q != id) {
                while (t < w->n_touched && w->touched[t] != q) t++;
                if (t < w->n_touched) continue; /* already met */
            }
            int near = 0;
            for (int k = 0; k < n_sup && !near; k++) {
                int dy = w->sup_y[k] - y, dx = w->sup_x[k] - x;
                near = dy * dy + dx * dx <= w->r2;
            }
            if (!near) continue;
            if (q == id) {
                link = 1;
            } else {
                if (t == (int)(sizeof w->touched / sizeof *w->touched)) return 0;
                w->touched[w->n_touched++] = q;
            }
        }
    uint16_t ra = find(w, 1), rb = find(w, 2), rid = find(w, id);
    int has_a = rid == ra, has_b = rid == rb;
    for (int t = 0; t < w->n_touched; t++) {
        uint16_t rt = find(w, w->touched[t]);
        has_a |= rt == ra, has_b |= rt == rb;
    }
    if (linked) *linked = link;
    return !(has_a && has_b);
}

static void join(ssm_pathfinder_ws *w, uint16_t id) {
    for (int t = 0; t < w->n_touched; t++) w->parent[find(w, w->touched[t])] = find(w, id);
}

/* may_join for a paddle of object id; with need_link its ink must also come
 * within the link radius of the object's earlier ink. */
static int may_place(ssm_pathfinder_ws *w, const pf_patch *pp, uint16_t id, int need_link) {
    int n = support(w, pp->line, w->side, pp->y0, pp->x0), linked;
    return may_join(w, n, id, &linked) && (!need_link || linked);
}

/* Ink (times contrast) into the image, its support into owner; after may_join
 * on the same ink, whose groups it joins. */
static void place(ssm_pathfinder_ws *w, const float *cov, int side, int y0, int x0,
                  double contrast, uint16_t id) {
    join(w, id);
    for (int i = 0; i < side; i++)
        for (int j = 0; j < side; j++) {
            int y = y0 + i, x = x0 + j;
            float v = cov[i * side + j];
            if (v <= 0 || !inside(w, y, x)) continue;
            float c = (float)(v * contrast);
            size_t q = (size_t)y * (size_t)w->n + (size_t)x;
            if (c > w->image[q]) w->image[q] = c;
            if (!w->owner[q]) w->owner[q] = id;
        }
}

static void commit_mask(ssm_pathfinder_ws *w, const pf_patch *pp) {
    for (int i = 0; i < w->side; i++)
        for (int j = 0; j < w->side; j++) {
            int y = pp->y0 + i, x = pp->x0 + j;
            float v = pp->mask[i * w->side + j];
            if (inside(w, y, x) && v > w->mask[y * w->n + x]) w->mask[y * w->n + x] = v;
        }
}

/* ---- seeds: a free pixel for the tail ---- */

/* The rows of pixels a paddle along theta from (0, 0) covers fully: the
 * original dilates the occupancy with this shape (its `struct`). */
static void footprint(ssm_pathfinder_ws *w, double theta) {
    pf_patch *pp = &w->slot[SLOT_CAND];
    int c = (w->side - 1) / 2;
    draw_paddle(w, pp, c, c, theta);
    w->n_foot = 0;
    for (int i = 0; i < w->side; i++) {
        int lo = -1, hi = -1;
        for (int j = 0; j < w->side; j++)
            if (pp->mask[i * w->side + j] >= 1.0f) {
                if (lo < 0) lo = j;
                hi = j;
            }
        if (lo >= 0) {
            w->foot[w->n_foot][0] = i - c, w->foot[w->n_foot][1] = lo - c;
            w->foot[w->n_foot][2] = hi - c, w->n_foot++;
        }
    }
}

static int blocked(const ssm_pathfinder_ws *w, int band, int y, int x) {
    int n = w->n;
    return y < band || y >= n - band || x < band || x >= n - band || w->mask[y * n + x] > FREE_LEVEL;
}

/* The tail at (y, x) is free: its footprint meets no blocked pixel (the
 * outside of the image does not count, as in cv2.dilate). */
static int tail_free(const ssm_pathfinder_ws *w, int band, int y, int x) {
    for (int f = 0; f < w->n_foot; f++) {
        int yy = y + w->foot[f][0];
        if (yy < 0 || yy >= w->n) continue;
        int a = x + w->foot[f][1], b = x + w->foot[f][2];
        for (int xx = a < 0 ? 0 : a; xx <= b && xx < w->n; xx++)
            if (blocked(w, band, yy, xx)) return 0;
    }
    return 1;
}

/* A tail drawn uniformly from the free pixels (those where a paddle's
 * footprint meets no pixel with mask > 0.3 or within `band` of the border)
 * into *ty, *tx; 0 when none is free. Uniform pixels are tried first, which
 * is the same law as the original's draw from the list of free pixels; the
 * list is made only when they keep missing. */
static int free_tail(ssm_pathfinder_ws *w, int band, int *ty, int *tx) {
    int n = w->n;
    for (int t = 0; t < 64; t++) {
        int y = randint(w, 0, n), x = randint(w, 0, n);
        if (tail_free(w, band, y, x)) {
            *ty = y, *tx = x;
            return 1;
        }
    }
    int count = 0;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) count += tail_free(w, band, y, x);
    if (count == 0) return 0;
    int k = randint(w, 0, count);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            if (tail_free(w, band, y, x) && k-- == 0) {
                *ty = y, *tx = x;
                return 1;
            }
    return 0; /* not reached */
}

/* head = tail + length along theta, pivot = head - (length + margin): both in the image. */
static int seed_fits_window(const ssm_pathfinder_ws *w, int ty, int tx, double theta, int *py,
                            int *px) {
    int hy, hx, L = w->p->paddle_length;
    translate(ty, tx, theta, L, &hy, &hx);
    translate(hy, hx, flip_by_pi(theta), L + w->margin, py, px);
    return inside(w, hy, hx) && inside(w, *py, *px);
}

/* ---- extending a snake (extend_snake + get_coords_cmf) ---- */

static int extend(ssm_pathfinder_ws *w, snake *s, uint16_t id, double contrast, int need_link) {
    const ssm_pathfinder_params *p = w->p;
    int L = p->paddle_length, m = w->margin, n = w->n;
    int py, px;
    translate(s->pivot_y, s->pivot_x, s->orientation, L + 2 * m, &py, &px);
    /* Candidates: the circle's points in the image truncated to pixels,
     * unique, sorted as np.unique sorts rows. */
    int nc = 0;
    for (int k = 0; k < w->n_ring; k++) {
        double fy = py + w->ring_y[k], fx = px + w->ring_x[k];
        if (fy >= n || fy < 0 || fx >= n || fx < 0) continue;
        int y = (int)fy, x = (int)fx, j = nc;
        while (j > 0 && (w->cy[j - 1] > y || (w->cy[j - 1] == y && w->cx[j - 1] > x))) j--;
        if (j > 0 && w->cy[j - 1] == y && w->cx[j - 1] == x) continue;
        memmove(w->cy + j + 1, w->cy + j, (size_t)(nc - j) * sizeof(int));
        memmove(w->cx + j + 1, w->cx + j, (size_t)(nc - j) * sizeof(int));
        w->cy[j] = y, w->cx[j] = x, nc++;
    }
    if (nc == 0) return 0;
    double total = 0;
    for (int k = 0; k < nc; k++) {
        double o = atan2(w->cy[k] - py, w->cx[k] - px), d = fabs(o - s->orientation);
        d = d < 2 * PI - d ? d : 2 * PI - d;
        d = d * p->continuity < 0.5 * PI ? d * p->continuity : 0.5 * PI;
        double c = cos(d) > 0 ? cos(d) : 0;
        /* occupancy dilated by the margin disc, at the candidate */
        float occ = 0;
        for (int o2 = 0; o2 < w->n_disc; o2++) {
            int y = w->cy[k] + w->disc[o2][0], x = w->cx[k] + w->disc[o2][1];
            if (inside(w, y, x) && w->mask[y * n + x] > occ) occ = w->mask[y * n + x];
        }
        w->co[k] = o;
        w->cmf[k] = (1.0 - occ) * c * c;
        total += w->cmf[k];
    }
    if (total < 1e-4) return 0;
    double acc = 0;
    for (int k = 0; k < nc; k++) acc += w->cmf[k] / total, w->cmf[k] = acc;
    pf_patch *cand = &w->slot[SLOT_CAND];
    for (int trial = 0; trial <= p->max_paddle_retrial; trial++) {
        double u = ssm_stream_uniform(&w->rng);
        int k = 0; /* np.argmax of an all-false array is 0 */
        while (k < nc && !(w->cmf[k] - u > 0)) k++;
        if (k == nc) k = 0;
        draw_paddle(w, cand, w->cy[k], w->cx[k], flip_by_pi(w->co[k]));
        if (overlaps(w, cand) || !may_place(w, cand, id, need_link)) continue;
        place(w, cand->line, w->side, cand->y0, cand->x0, contrast, id);
        commit_mask(w, s->last);
        pf_patch t = *s->last; /* the candidate becomes the snake's newest paddle */
        *s->last = *cand;
        *cand = t;
        s->pivot_y = py, s->pivot_x = px;
        s->orientation = w->co[k];
        s->tip_y = w->cy[k], s->tip_x = w->cx[k];
        return 1;
    }
    return 0;
}

/* ---- the image ---- */

static void reset(ssm_pathfinder_ws *w) {
    int n = w->n, pad = w->p->padding;
    size_t nn = (size_t)n * (size_t)n;
    memset(w->image, 0, nn * sizeof *w->image);
    memset(w->owner, 0, nn * sizeof *w->owner);
    for (int i = 0; i < w->n_ids; i++) w->parent[i] = (uint16_t)i;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++)
            w->mask[y * n + x] = (y < pad || y >= n - pad || x < pad || x >= n - pad) ? 1.0f : 0.0f;
}

/* initialize_two_seeds: the first paddle on a free pixel at least
 * 2 * seed_distance from the border, the second seed_distance from it. */
static int two_seeds(ssm_pathfinder_ws *w, snake *sn, const double *mu) {
    const ssm_pathfinder_params *p = w->p;
    double theta[2];
    for (int s = 0; s < 2; s++) {
        double contrast = p->paddle_contrast[randint(w, 0, p->n_paddle_contrast)] * mu[s];
        int trial = 0, ty = 0, tx = 0, py = 0, px = 0;
        for (; trial <= p->max_paddle_retrial; trial++) {
            theta[s] = degrees(w, -180, 180);
            if (s == 0) {
                footprint(w, theta[s]);
                if (free_tail(w, 2 * p->seed_distance, &ty, &tx) == 0) return 0;
            } else {
                double a = degrees(w, 0, 360);
                ty = (int)rint(sn[0].origin_y + p->seed_distance * sin(a));
                tx = (int)rint(sn[0].origin_x + p->seed_distance * cos(a));
            }
            if (!seed_fits_window(w, ty, tx, theta[s], &py, &px)) continue;
            draw_paddle(w, sn[s].last, ty, tx, theta[s]);
            /* added: the clearance rule between the two snakes */
            if (may_place(w, sn[s].last, (uint16_t)(s + 1), 0)) break;
        }
        if (trial > p->max_paddle_retrial) return 0;
        pf_patch *pp = sn[s].last;
        place(w, pp->line, w->side, pp->y0, pp->x0, contrast, (uint16_t)(s + 1));
        sn[s].origin_y = sn[s].tip_y = ty, sn[s].origin_x = sn[s].tip_x = tx;
        sn[s].pivot_y = py, sn[s].pivot_x = px;
        sn[s].orientation = theta[s];
    }
    return 1;
}

/* two_snakes: seeds, then both snakes grown one paddle each in turn. */
static int two_snakes(ssm_pathfinder_ws *w, snake *sn) {
    const ssm_pathfinder_params *p = w->p;
    /* snake_contrast_list * 2, shuffled, the first two */
    double mu[2 * SSM_PF_MAX_LIST];
    int nmu = 2 * p->n_snake_contrast;
    for (int i = 0; i < nmu; i++) mu[i] = p->snake_contrast[i % p->n_snake_contrast];
    for (int i = nmu - 1; i > 0; i--) {
        int j = randint(w, 0, i + 1);
        double t = mu[i];
        mu[i] = mu[j], mu[j] = t;
    }
    reset(w);
    sn[0].last = &w->slot[SLOT_A];
    sn[1].last = &w->slot[SLOT_B];
    if (!two_seeds(w, sn, mu)) return 0;
    for (int seg = 0; seg < p->contour_length - 1; seg++) {
        double contrast = p->paddle_contrast[randint(w, 0, p->n_paddle_contrast)];
        for (int s = 0; s < 2; s++)
            if (!extend(w, &sn[s], (uint16_t)(s + 1), contrast * mu[s], 1)) return 0;
    }
    /* The original adds only the second snake's last paddle here, leaving the
     * first one's out of the occupancy; both go in. */
    commit_mask(w, sn[0].last);
    commit_mask(w, sn[1].last);
    return 1;
}

/* A marker disc at pixel (y, x): draw_circle's disc sits on the aa-grid point
 * y*aa, which is (0.5/aa - 0.5) pixel up and left of the pixel centre. */
static int marker_patch(ssm_pathfinder_ws *w, int y, int x, int *y0, int *x0) {
    const ssm_pathfinder_params *p = w->p;
    double shift = 0.5 / p->antialias_scale - 0.5;
    int c = (w->marker_side - 1) / 2;
    *y0 = y - c, *x0 = x - c;
    pf_capsule(w->marker, w->marker_side, *y0, *x0, y + shift, x + shift, y + shift, x + shift,
               p->marker_radius, p->supersample);
    return support(w, w->marker, w->marker_side, *y0, *x0);
}

/* seed_snake + extensions (make_snake) for distractor `id`; on failure the image
 * is as before. */
static int distractor(ssm_pathfinder_ws *w, uint16_t id, int length) {
    const ssm_pathfinder_params *p = w->p;
    size_t nn = (size_t)w->n * (size_t)w->n;
    memcpy(w->save_image, w->image, nn * sizeof *w->image);
    memcpy(w->save_mask, w->mask, nn * sizeof *w->mask);
    memcpy(w->save_owner, w->owner, nn * sizeof *w->owner);
    memcpy(w->save_parent, w->parent, (size_t)w->n_ids * sizeof *w->parent);
    snake s = {.last = &w->slot[SLOT_D]};
    double contrast = p->snake_contrast[randint(w, 0, p->n_snake_contrast)];
    int trial = 0, ty = 0, tx = 0, free_px = 0;
    for (size_t q = 0; q < nn; q++) free_px += w->mask[q] <= FREE_LEVEL;
    if (free_px < 0.01 * (double)nn) return 0; /* stop_with_availability = 0.01 */
    for (; trial <= p->max_paddle_retrial; trial++) {
        s.orientation = degrees(w, -180, 180);
        footprint(w, s.orientation);
        if (free_tail(w, 1, &ty, &tx) == 0) return 0;
        if (!seed_fits_window(w, ty, tx, s.orientation, &s.pivot_y, &s.pivot_x)) continue;
        draw_paddle(w, s.last, ty, tx, s.orientation);
        if (may_place(w, s.last, id, 0)) break; /* added (the footprint was free) */
    }
    if (trial > p->max_paddle_retrial) return 0;
    place(w, s.last->line, w->side, s.last->y0, s.last->x0, contrast, id);
    for (int seg = 0; seg < length - 1; seg++) {
        contrast = p->snake_contrast[randint(w, 0, p->n_snake_contrast)];
        if (!extend(w, &s, id, contrast, 0)) {
            memcpy(w->image, w->save_image, nn * sizeof *w->image);
            memcpy(w->mask, w->save_mask, nn * sizeof *w->mask);
            memcpy(w->owner, w->save_owner, nn * sizeof *w->owner);
            memcpy(w->parent, w->save_parent, (size_t)w->n_ids * sizeof *w->parent);
            return 0;
        }
    }
    commit_mask(w, s.last);
    return 1;
}

/* make_many_snakes with allow_incomplete: each snake gets 1 + retrial tries. */
static int many_distractors(ssm_pathfinder_ws *w, int count, int retrial, int length,
                            uint16_t *next_id) {
    int placed = 0;
    for (int i = 0; i < count && *next_id < w->n_ids; i++)
        for (int t = 0; t <= retrial; t++)
            if (distractor(w, *next_id, length)) {
                (*next_id)++, placed++;
                break;
            }
    return placed;
}

int ssm_pathfinder_generate(const ssm_pathfinder_params *p, uint64_t seed, uint64_t index,
                            ssm_pathfinder_ws *w, ssm_pathfinder_image *out) {
    SSM_CHECK(w->n == p->window_size, "pathfinder_generate: workspace for %d, params for %d", w->n,
              p->window_size);
    SSM_CHECK(index <= UINT32_MAX, "pathfinder_generate: index %llu >= 2^32",
              (unsigned long long)index);
    w->p = p;
    w->rng = ssm_stream_make(seed, SSM_DOMAIN_PATHFINDER, (uint32_t)index);
    memset(out, 0, sizeof *out);
    out->label = randint(w, 0, 2);
    out->margin = p->paddle_margin[randint(w, 0, p->n_paddle_margin)];
    set_margin(w, out->margin);
    snake sn[2];
    int tip_snake[2];
    for (;;) {
        if (++out->pair_attempts > MAX_PAIR_ATTEMPTS)
            return ssm_error("pathfinder: no pair of %d-paddle snakes fits a %dx%d window after %d "
                             "attempts", p->contour_length, w->n, w->n, MAX_PAIR_ATTEMPTS);
        if (!two_snakes(w, sn)) continue;
        /* from_wrapper draws the origin snake after the distractors; drawn here
         * so that the markers take part in the clearance rule. */
        tip_snake[0] = randint(w, 0, 2);
        tip_snake[1] = out->label ? tip_snake[0] : 1 - tip_snake[0];
        out->marker_y[0] = sn[tip_snake[0]].origin_y, out->marker_x[0] = sn[tip_snake[0]].origin_x;
        out->marker_y[1] = sn[tip_snake[1]].tip_y, out->marker_x[1] = sn[tip_snake[1]].tip_x;
        int ok = 1;
        for (int k = 0; k < 2 && ok; k++) {
            int y0, x0, ns = marker_patch(w, out->marker_y[k], out->marker_x[k], &y0, &x0);
            uint16_t id = (uint16_t)(tip_snake[k] + 1);
            ok = may_join(w, ns, id, NULL);
            if (ok) place(w, w->marker, w->marker_side, y0, x0, 1.0, id);
        }
        if (ok) break;
    }
    uint16_t next_id = 3;
    out->n_distractors = many_distractors(w, p->num_distractor_snakes,
                                          p->max_distractor_contour_retrial, p->distractor_length,
                                          &next_id);
    if (p->use_single_paddles) {
        /* from_wrapper: 150 paddles scaled by the margin, less those placed */
        int m = out->margin;
        int total = (int)(150 / ((7.5 + 13 * m + 4 * m * m) / 123.5));
        int singles = total - 2 * p->contour_length - p->num_distractor_snakes * p->distractor_length;
        many_distractors(w, singles, p->max_paddle_retrial, 1, &next_id);
    }
    /* Scaled to 0-255 by the image's maximum, as scipy.misc.imsave's bytescale
     * did (the markers went in with the pair: np.maximum commutes). */
    size_t nn = (size_t)w->n * (size_t)w->n;
    float mx = 0;
    for (size_t q = 0; q < nn; q++) mx = w->image[q] > mx ? w->image[q] : mx;
    for (size_t q = 0; q < nn; q++) {
        float v = w->image[q];
        int u = v > 0 ? (int)(v * 255.0f / mx + 0.5f) : 0;
        /* any ink stays non-zero: the label's guarantee is about non-zero pixels */
        w->pixels[q] = (uint8_t)(v > 0 && u < 1 ? 1 : u > 255 ? 255 : u);
    }
    out->pixels = w->pixels;
    return SSM_OK;
}

/* Box-filtered capsules for the Pathfinder generator (see pathfinder_draw.h). */
#include "pathfinder_draw.h"
#include <math.h>

/* Squared distance from (py, px) to the segment a-b. */
static inline double seg_dist2(double py, double px, double ay, double ax, double by, double bx) {
    double dy = by - ay, dx = bx - ax, l2 = dy * dy + dx * dx;
    double t = l2 > 0 ? ((py - ay) * dy + (px - ax) * dx) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ey = ay + t * dy - py, ex = ax + t * dx - px;
    return ey * ey + ex * ex;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void pf_capsule(float *out, int side, int y0, int x0, double ay, double ax, double by, double bx,
                double radius, int supersample) {
    /* A pixel whose centre is within radius - half its diagonal is wholly
     * inside, beyond radius + half its diagonal wholly outside. */
    const double half_diag = 0.7072, r2 = radius * radius, rout = radius + half_diag;
    const double rin2 = radius > half_diag ? (radius - half_diag) * (radius - half_diag) : -1;
    const int s = supersample;
    const float per = 1.0f / (float)(s * s);
    for (int k = 0; k < side * side; k++) out[k] = 0;
    /* only the capsule's bounding box */
    int i0 = clampi((int)floor(fmin(ay, by) - rout) - y0, 0, side);
    int i1 = clampi((int)ceil(fmax(ay, by) + rout) - y0 + 1, 0, side);
    int j0 = clampi((int)floor(fmin(ax, bx) - rout) - x0, 0, side);
    int j1 = clampi((int)ceil(fmax(ax, bx) + rout) - x0 + 1, 0, side);
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) {
            double cy = y0 + i, cx = x0 + j, d2 = seg_dist2(cy, cx, ay, ax, by, bx);
            if (d2 <= rin2) {
                out[i * side + j] = 1.0f;
            } else if (d2 <= rout * rout) {
                int n = 0;
                for (int a = 0; a < s; a++)
                    for (int b = 0; b < s; b++)
                        n += seg_dist2(cy - 0.5 + (a + 0.5) / s, cx - 0.5 + (b + 0.5) / s, ay, ax,
                                       by, bx) <= r2;
                out[i * side + j] = (float)n * per;
            }
        }
}

int pf_paddle_side(int length, double thickness, int margin) {
    /* The original's patch half-width, plus one for the rounding of the end. */
    return 2 * (length + (int)ceil(thickness) + margin + 1) + 1;
}

void pf_paddle(pf_patch *p, int side, int y, int x, double theta, int length, double thickness,
               int margin, int antialias_scale, int supersample) {
    int c = (side - 1) / 2;
    p->y0 = y - c;
    p->x0 = x - c;
    /* PIL drew from the blown-up patch centre C to ceil(C + length*aa*dir), C an
     * integer: adding to C first makes ceil ignore sin/cos rounding residue. */
    double aa = antialias_scale, C = (double)(length + (int)ceil(thickness) + margin) * aa;
    double ey = (ceil(C + length * aa * sin(theta)) - C) / aa;
    double ex = (ceil(C + length * aa * cos(theta)) - C) / aa;
    double r = thickness / 2;
    pf_capsule(p->line, side, p->y0, p->x0, y, x, y + ey, x + ex, r, supersample);
    pf_capsule(p->mask, side, p->y0, p->x0, y, x, y + ey, x + ex, r + margin, supersample);
}

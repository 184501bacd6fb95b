/* The Pathfinder generator's rasteriser (internal to data/pathfinder_*.c): paddles
 * and discs as coverage in [0, 1] by a box filter over supersample^2 point samples
 * per pixel, in place of the original's PIL lines and Lanczos downsampling. */
#ifndef SSM_PATHFINDER_DRAW_H
#define SSM_PATHFINDER_DRAW_H

/* A square patch of side `side` whose top-left pixel is (y0, x0) in the image;
 * it may reach outside the image (callers clip). */
typedef struct {
    int y0, x0;
    float *line; /* the paddle's ink coverage (before contrast) */
    float *mask; /* its occupancy: the line dilated by the margin */
} pf_patch;

/* Coverage of the capsule {points within radius of segment (ay, ax)-(by, bx)}
 * over a side x side patch at (y0, x0); pixel (y, x) is the square of side 1
 * centred on (y, x). */
void pf_capsule(float *out, int side, int y0, int x0, double ay, double ax, double by, double bx,
                double radius, int supersample);

/* The original's paddle: from the centre of pixel (y, x) along theta (radians, y
 * down) for `length` pixels, its end rounded up on the antialias_scale grid as
 * PIL's line end was; line radius thickness/2, mask radius thickness/2 + margin.
 * Fills p (line and mask of p->side^2 floats) centred on (y, x). */
void pf_paddle(pf_patch *p, int side, int y, int x, double theta, int length, double thickness,
               int margin, int antialias_scale, int supersample);

/* The patch side pf_paddle needs. */
int pf_paddle_side(int length, double thickness, int margin);

#endif

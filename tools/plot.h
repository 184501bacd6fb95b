/* The plot module's renderer: panels of line series in, a PNG or SVG file out (by the
 * path's extension), written through ssm_replace_file (never half-written). Only the
 * layout is ours: nice ticks, margins, the legend's corner, the best-value mark; cairo
 * draws the lines and the text (its toy text API, the "sans-serif" font).
 *
 * Each panel draws, in this order: grid lines, the frame, tick marks (one stroke each),
 * the tick labels, axis labels and title (text), then per series its line (one stroke;
 * MARKED series also one fill for all their dots, and one ring stroke for the best
 * point), then the legend: a box (filled and stroked: one path in an SVG) and one
 * sample stroke per labelled series. An SVG therefore holds, outside its glyph
 * definitions (<defs>),
 *   panels * 3 + sum over series of (1 + 1 if MARKED + 1 if best) + per panel with a
 *   legend (1 + labelled series)
 * <path> elements, counting series with at least 2 drawable points. */
#ifndef SSM_PLOT_H
#define SSM_PLOT_H

enum {
    SSM_PLOT_FAINT,  /* a thin translucent line (training rows: many, noisy) */
    SSM_PLOT_MARKED, /* a full line with a dot at each point (validation rows: few) */
    SSM_PLOT_LINE,   /* a full line */
};

typedef struct {
    const double *x, *y; /* points in drawing order; non-finite ones (and y <= 0 on a log
                          * axis) are left out */
    int n;
    const char *label; /* legend text; NULL: not in the legend */
    int color;         /* palette index, see ssm_plot_color */
    int style;         /* SSM_PLOT_FAINT, SSM_PLOT_MARKED or SSM_PLOT_LINE */
    int best;          /* +1: ring the largest y and print it, -1: the smallest, 0: no */
} ssm_plot_series;

typedef struct {
    const char *title, *x_label, *y_label; /* NULL: none */
    int log_y;
    const ssm_plot_series *series;
    int n_series;
} ssm_plot_panel;

typedef struct {
    int width, height; /* pixels (SVG: px units) */
    const ssm_plot_panel *panels;
    int n_panels; /* stacked top to bottom, sharing the height */
} ssm_plot_figure;

/* Draw fig into path (.png or .svg, any case); SSM_ERR with a message naming the file. */
int ssm_plot_write(const char *path, const ssm_plot_figure *fig);

/* Palette colour i (cycling through 10), 0-255 per channel. */
void ssm_plot_color(int i, unsigned char rgb[3]);

/* 1 for a .png path, 2 for .svg, 0 for anything else. */
int ssm_plot_format(const char *path);

#endif

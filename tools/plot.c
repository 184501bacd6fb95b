#include "plot.h"
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "replace_file.h"

void ssm_plot_color(int i, unsigned char rgb[3]) {
    static const unsigned char tableau10[10][3] = {
        {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
        {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
    memcpy(rgb, tableau10[((i % 10) + 10) % 10], 3);
}

int ssm_plot_format(const char *path) {
    size_t n = strlen(path);
    if (n >= 4 && !strcasecmp(path + n - 4, ".png")) return 1;
    if (n >= 4 && !strcasecmp(path + n - 4, ".svg")) return 2;
    return 0;
}

static void set_color(cairo_t *cr, int i, double alpha, double shade) {
    unsigned char c[3];
    ssm_plot_color(i, c);
    cairo_set_source_rgba(cr, c[0] / 255.0 * shade, c[1] / 255.0 * shade, c[2] / 255.0 * shade,
                          alpha);
}

/* ------------------------------------------------------------ axes and ticks */

typedef struct {
    double lo, hi, step; /* range; linear tick spacing (for the labels' decimals) */
    int log, n;
    double v[64]; /* tick values */
} axis;

/* Heckbert's "nice numbers": 1, 2 or 5 times a power of ten near x. */
static double nice_num(double x) {
    double e = pow(10, floor(log10(x))), f = x / e;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * e;
}

static void linear_axis(axis *a, double lo, double hi, int max_ticks) {
    if (!(hi > lo)) { /* one value: centre it */
        double d = lo != 0 ? fabs(lo) * 0.1 : 1;
        lo -= d, hi += d;
    }
    a->log = 0;
    a->step = nice_num((hi - lo) / (max_ticks - 1));
    a->lo = floor(lo / a->step) * a->step;
    a->hi = ceil(hi / a->step) * a->step;
    a->n = 0;
    for (double v = a->lo; v <= a->hi + a->step / 2 && a->n < 64; v += a->step)
        a->v[a->n++] = fabs(v) < a->step * 1e-9 ? 0 : v; /* no "-0.0" from rounding */
}

/* Up to two decades: ticks and ends at 1, 2, 5 times powers of ten; more: whole
 * decades, every k-th power of ten a tick. */
static void log_axis(axis *a, double lo, double hi, int max_ticks) {
    int e0 = (int)floor(log10(lo)), e1 = (int)ceil(log10(hi));
    if (e1 == e0) e0--, e1++;
    a->log = 1;
    a->n = 0;
    if (e1 - e0 <= 2) {
        static const double m[3] = {1, 2, 5};
        a->lo = pow(10, e0);
        a->hi = pow(10, e1);
        for (int e = e0; e <= e1; e++)
            for (int k = 0; k < 3 && a->n < 64; k++) {
                double v = m[k] * pow(10, e);
                if (v <= lo * (1 + 1e-9)) a->lo = v, a->n = 0; /* the last one below lo */
                a->v[a->n++] = v;
                if (v >= hi * (1 - 1e-9)) {
                    a->hi = v;
                    return;
                }
            }
        return;
    }
    a->lo = pow(10, e0);
    a->hi = pow(10, e1);
    int every = (e1 - e0 + max_ticks - 1) / max_ticks;
    for (int e = e0; e <= e1; e += every) a->v[a->n++] = pow(10, e);
}

/* A tick label: decimals from the spacing; k / M for large values. */
static void fmt_tick(const axis *a, double v, char *buf, size_t n) {
    if (a->log) {
        snprintf(buf, n, "%g", v);
        return;
    }
    double scale = 1;
    const char *unit = "";
    double big = fmax(fabs(a->lo), fabs(a->hi));
    if (big >= 1e7 && a->step >= 1e5) scale = 1e6, unit = "M";
    else if (big >= 1e4 && a->step >= 100) scale = 1e3, unit = "k";
    int dec = (int)ceil(-log10(a->step / scale) - 1e-9);
    if (dec < 0) dec = 0;
    if (dec > 8) snprintf(buf, n, "%.2g", v);
    else snprintf(buf, n, "%.*f%s", dec, v / scale, v == 0 ? "" : unit);
}

/* ------------------------------------------------------------ text */

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* The height of a digit: the box text_at aligns (descenders hang below it). */
static double text_h(cairo_t *cr) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, "0", &e);
    return e.height;
}

/* s with the point (ax, ay) of its box at (x, y): (0, 0) top left, (1, 1) bottom right. */
static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay) {
    cairo_move_to(cr, x - ax * text_w(cr, s), y + (1 - ay) * text_h(cr));
    cairo_show_text(cr, s);
}

/* ------------------------------------------------------------ layout */

typedef struct {
    double x, y, w, h;
} rect;

enum { INSET = 6 }; /* pixels between the axes' ends and the frame: no curve on it */

typedef struct {
    rect panel; /* the panel's share of the figure */
    rect frame; /* the framed plot area */
    rect r;     /* where the axes' ranges map: the frame, INSET pixels in */
    axis ax, ay;
    int any;     /* anything drawable */
    rect legend; /* its box */
    int rows;    /* its entries (0: no legend) */
} view;

static double px_x(const view *v, double x) {
    return v->r.x + (x - v->ax.lo) / (v->ax.hi - v->ax.lo) * v->r.w;
}

static double px_y(const view *v, double y) {
    double f = v->ay.log ? (log10(y) - log10(v->ay.lo)) / (log10(v->ay.hi) - log10(v->ay.lo))
                         : (y - v->ay.lo) / (v->ay.hi - v->ay.lo);
    return v->r.y + v->r.h * (1 - f);
}

static int drawable(const ssm_plot_series *s, int i, int log_y) {
    return isfinite(s->x[i]) && isfinite(s->y[i]) && (!log_y || s->y[i] > 0);
}

static int overlaps(rect a, rect b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static int inside(rect a, rect outer) {
    return a.x >= outer.x && a.y >= outer.y && a.x + a.w <= outer.x + outer.w &&
           a.y + a.h <= outer.y + outer.h;
}

/* Does the segment (x0, y0)-(x1, y1) cross r? (Liang-Barsky) */
static int seg_hits(double x0, double y0, double x1, double y1, rect r) {
    double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - r.x, r.x + r.w - x0, y0 - r.y, r.y + r.h - y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0 && t > t1) return 0;
        if (p[i] > 0 && t < t0) return 0;
        if (p[i] < 0 && t > t0) t0 = t;
        if (p[i] > 0 && t < t1) t1 = t;
    }
    return 1;
}

/* How much of the drawn data r would hide: segments crossing it. */
static int covered(const view *v, const ssm_plot_panel *p, rect r) {
    int hits = 0;
    for (int k = 0; k < p->n_series; k++) {
        const ssm_plot_series *s = &p->series[k];
        double lx = NAN, ly = NAN;
        for (int i = 0; i < s->n; i++) {
            if (!drawable(s, i, p->log_y)) continue;
            double x = px_x(v, s->x[i]), y = px_y(v, s->y[i]);
            if (isnan(lx)) lx = x, ly = y;
            hits += seg_hits(lx, ly, x, y, r);
            lx = x, ly = y;
        }
    }
    return hits;
}

/* ------------------------------------------------------------ drawing */

/* The index of the ringed point of s, or -1. */
static int best_point(const ssm_plot_series *s, int log_y) {
    int best = -1;
    for (int i = 0; i < s->n; i++)
        if (s->best && drawable(s, i, log_y) &&
            (best < 0 || (s->best > 0 ? s->y[i] > s->y[best] : s->y[i] < s->y[best])))
            best = i;
    return best;
}


static void crisp_line(cairo_t *cr, double x0, double y0, double x1, double y1) {
    cairo_move_to(cr, floor(x0) + 0.5, floor(y0) + 0.5);
    cairo_line_to(cr, floor(x1) + 0.5, floor(y1) + 0.5);
}

static void draw_axes(cairo_t *cr, const view *v, const ssm_plot_panel *p) {
    const rect *r = &v->frame, panel = v->panel;
    cairo_set_line_width(cr, 1);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    for (int i = 0; i < v->ax.n; i++)
        crisp_line(cr, px_x(v, v->ax.v[i]), r->y, px_x(v, v->ax.v[i]), r->y + r->h);
    for (int i = 0; i < v->ay.n; i++)
        crisp_line(cr, r->x, px_y(v, v->ay.v[i]), r->x + r->w, px_y(v, v->ay.v[i]));
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_rectangle(cr, floor(r->x) + 0.5, floor(r->y) + 0.5, floor(r->w), floor(r->h));
    cairo_stroke(cr);
    for (int i = 0; i < v->ax.n; i++)
        crisp_line(cr, px_x(v, v->ax.v[i]), r->y + r->h, px_x(v, v->ax.v[i]), r->y + r->h + 4);
    for (int i = 0; i < v->ay.n; i++)
        crisp_line(cr, r->x - 4, px_y(v, v->ay.v[i]), r->x, px_y(v, v->ay.v[i]));
    cairo_stroke(cr);
    char buf[64];
    font(cr, 11, 0);
    for (int i = 0; i < v->ax.n; i++) {
        fmt_tick(&v->ax, v->ax.v[i], buf, sizeof buf);
        text_at(cr, buf, px_x(v, v->ax.v[i]), r->y + r->h + 7, 0.5, 0);
    }
    for (int i = 0; i < v->ay.n; i++) {
        fmt_tick(&v->ay, v->ay.v[i], buf, sizeof buf);
        text_at(cr, buf, r->x - 7, px_y(v, v->ay.v[i]), 1, 0.5);
    }
    font(cr, 12, 0);
    if (p->x_label) text_at(cr, p->x_label, r->x + r->w / 2, panel.y + panel.h - 8, 0.5, 1);
    if (p->y_label) {
        cairo_save(cr);
        cairo_translate(cr, panel.x + 8, r->y + r->h / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, p->y_label, 0, 0, 0.5, 0);
        cairo_restore(cr);
    }
    if (p->title) {
        font(cr, 13, 1);
        text_at(cr, p->title, r->x + r->w / 2, panel.y + 9, 0.5, 0);
    }
}

/* The series' line, its dots (MARKED) and the ring around its best point. */
static void draw_series(cairo_t *cr, const view *v, const ssm_plot_series *s, int log_y) {
    int marked = s->style == SSM_PLOT_MARKED, best = best_point(s, log_y);
    cairo_new_path(cr); /* text leaves a current point behind */
    for (int i = 0; i < s->n; i++)
        if (drawable(s, i, log_y)) /* the first line_to acts as move_to */
            cairo_line_to(cr, px_x(v, s->x[i]), px_y(v, s->y[i]));
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width(cr, s->style == SSM_PLOT_FAINT ? 1.2 : 2);
    set_color(cr, s->color, s->style == SSM_PLOT_FAINT ? 0.4 : 1, 1);
    cairo_stroke(cr);
    if (marked) {
        for (int i = 0; i < s->n; i++) {
            if (!drawable(s, i, log_y)) continue;
            cairo_new_sub_path(cr);
            cairo_arc(cr, px_x(v, s->x[i]), px_y(v, s->y[i]), 2.5, 0, 2 * M_PI);
        }
        cairo_fill(cr);
    }
    if (best >= 0) {
        cairo_set_line_width(cr, 1.5);
        cairo_new_sub_path(cr);
        cairo_arc(cr, px_x(v, s->x[best]), px_y(v, s->y[best]), 6, 0, 2 * M_PI);
        cairo_stroke(cr);
    }
}

enum { LEGEND_ROW = 16, LEGEND_PAD = 6, LEGEND_SAMPLE = 22 };

/* The legend box in the corner of the plot area that hides the fewest segments
 * (*hits of them); rows: its entries. */
static rect place_legend(cairo_t *cr, const view *v, const ssm_plot_panel *p, int *rows,
                         int *hits) {
    double w = 0;
    *rows = *hits = 0;
    font(cr, 11, 0);
    for (int k = 0; k < p->n_series; k++)
        if (p->series[k].label) {
            w = fmax(w, text_w(cr, p->series[k].label));
            (*rows)++;
        }
    rect box = {0, 0, w + LEGEND_SAMPLE + 3 * LEGEND_PAD, *rows * LEGEND_ROW + LEGEND_PAD};
    const rect *r = &v->frame;
    double left = r->x + 8, right = r->x + r->w - 8 - box.w;
    double top = r->y + 8, bottom = r->y + r->h - 8 - box.h;
    double corners[4][2] = {{right, top}, {left, top}, {right, bottom}, {left, bottom}};
    int best = -1;
    for (int c = 0; c < 4; c++) {
        rect b = {corners[c][0] - 4, corners[c][1] - 4, box.w + 8, box.h + 8}; /* with air */
        int h = covered(v, p, b);
        if (best < 0 || h < *hits) best = c, *hits = h;
    }
    box.x = corners[best][0];
    box.y = corners[best][1];
    return box;
}

static void draw_legend(cairo_t *cr, const ssm_plot_panel *p, rect box) {
    cairo_rectangle(cr, box.x + 0.5, box.y + 0.5, box.w, box.h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    font(cr, 11, 0);
    double y = box.y + LEGEND_PAD + LEGEND_ROW / 2.0 - 3;
    for (int k = 0; k < p->n_series; k++) {
        const ssm_plot_series *s = &p->series[k];
        if (!s->label) continue;
        double x = box.x + LEGEND_PAD;
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + LEGEND_SAMPLE, y);
        cairo_set_line_width(cr, s->style == SSM_PLOT_FAINT ? 1.5 : 2);
        set_color(cr, s->color, s->style == SSM_PLOT_FAINT ? 0.5 : 1, 1);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        text_at(cr, s->label, x + LEGEND_SAMPLE + LEGEND_PAD, y, 0, 0.5);
        y += LEGEND_ROW;
    }
}

/* "best VALUE" beside each ring: of eight places around it, the one inside the plot, off
 * the legend, the rings and the labels placed before, that hides the fewest segments. */
static void draw_best_labels(cairo_t *cr, const view *v, const ssm_plot_panel *p, rect legend) {
    enum { MAX = 32 };
    rect taken[2 * MAX + 1] = {legend};
    int n_taken = 1, rings[MAX], n = 0;
    for (int k = 0; k < p->n_series && n < MAX; k++) {
        int b = best_point(&p->series[k], p->log_y);
        rings[n++] = b;
        if (b >= 0)
            taken[n_taken++] = (rect){px_x(v, p->series[k].x[b]) - 6,
                                      px_y(v, p->series[k].y[b]) - 6, 12, 12};
    }
    font(cr, 11, 1);
    double th = text_h(cr);
    for (int k = 0; k < n; k++) {
        const ssm_plot_series *s = &p->series[k];
        if (rings[k] < 0) continue;
        char text[64];
        snprintf(text, sizeof text, "best %.4g", s->y[rings[k]]);
        double x = px_x(v, s->x[rings[k]]), y = px_y(v, s->y[rings[k]]), tw = text_w(cr, text);
        rect pick = {0, 0, 0, 0};
        int pick_score = -1;
        for (int c = 0; c < 8; c++) {
            double dy = 8 + (c / 4) * (th + 8); /* beside the ring, then a row further */
            rect r = {c % 2 ? x - 8 - tw : x + 8, c % 4 < 2 ? y - dy - th : y + dy, tw, th};
            rect air = {r.x - 2, r.y - 2, r.w + 4, r.h + 4};
            int score = inside(r, v->frame) ? 0 : 100000;
            for (int j = 0; j < n_taken; j++) score += overlaps(air, taken[j]) ? 1000 : 0;
            score += 10 * covered(v, p, air) + c / 4; /* a row further beats hiding a line */
            if (pick_score < 0 || score < pick_score) pick = r, pick_score = score;
        }
        taken[n_taken++] = pick;
        set_color(cr, s->color, 1, 0.75);
        text_at(cr, text, pick.x, pick.y, 0, 0);
    }
}

/* The data's range over all series (y > 0 only on a log axis); 0 when nothing is drawable. */
static int data_range(const ssm_plot_panel *p, double *x0, double *x1, double *y0, double *y1) {
    int any = 0;
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int k = 0; k < p->n_series; k++)
        for (int i = 0; i < p->series[k].n; i++) {
            const ssm_plot_series *s = &p->series[k];
            if (!drawable(s, i, p->log_y)) continue;
            *x0 = fmin(*x0, s->x[i]), *x1 = fmax(*x1, s->x[i]);
            *y0 = fmin(*y0, s->y[i]), *y1 = fmax(*y1, s->y[i]);
            any = 1;
        }
    return any;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Axes and margins of a panel: y tick labels and label on the left, x tick labels and
 * label below, the title above. */
static void layout_panel(cairo_t *cr, const ssm_plot_panel *p, rect panel, view *v) {
    double x0, x1, y0, y1;
    v->panel = panel;
    v->any = data_range(p, &x0, &x1, &y0, &y1);
    if (!v->any) x0 = 0, x1 = 1, y0 = p->log_y ? 0.1 : 0, y1 = 1;
    linear_axis(&v->ax, x0, x1, clampi((int)(panel.w - 100) / 90, 3, 10));
    if (p->log_y) log_axis(&v->ay, y0, y1, clampi((int)(panel.h - 60) / 30, 2, 10));
    else linear_axis(&v->ay, y0, y1, clampi((int)(panel.h - 60) / 40, 3, 8));
    char buf[64];
    double label_w = 0;
    font(cr, 11, 0);
    for (int i = 0; i < v->ay.n; i++) {
        fmt_tick(&v->ay, v->ay.v[i], buf, sizeof buf);
        label_w = fmax(label_w, text_w(cr, buf));
    }
    fmt_tick(&v->ax, v->ax.v[v->ax.n - 1], buf, sizeof buf);
    double tick_h = text_h(cr), last_x_half = text_w(cr, buf) / 2;
    double left = 8 + (p->y_label ? 20 : 0) + label_w + 8;
    double top = p->title ? 32 : 12;
    double bottom = 7 + tick_h + (p->x_label ? 26 : 0) + 10;
    double right = fmax(16, last_x_half + 6 - INSET);
    v->frame = (rect){panel.x + left, panel.y + top, panel.w - left - right, panel.h - top - bottom};
}

/* Move the frame's left side to `left` pixels into the panel (panels line up). */
static void set_left(view *v, double left) {
    double right = v->frame.x + v->frame.w;
    v->frame.x = v->panel.x + left;
    v->frame.w = right - v->frame.x;
    v->r = (rect){v->frame.x + INSET, v->frame.y + INSET, v->frame.w - 2 * INSET,
                  v->frame.h - 2 * INSET};
}

/* Legends inside their plots, unless one would hide a curve wherever it went while the
 * plots stay 400 pixels wide with the legends beside them: then all go to the right. */
static void place_legends(cairo_t *cr, const ssm_plot_figure *fig, view *v, double left) {
    int hidden = 0;
    double legend_w = 0, narrowest = INFINITY;
    for (int i = 0; i < fig->n_panels; i++) {
        int hits;
        v[i].legend = place_legend(cr, &v[i], &fig->panels[i], &v[i].rows, &hits);
        hidden |= v[i].any && v[i].rows && hits > 0;
        if (v[i].rows) legend_w = fmax(legend_w, v[i].legend.w);
        narrowest = fmin(narrowest, v[i].frame.w);
    }
    if (!hidden || narrowest - legend_w - 12 < 400) return;
    for (int i = 0; i < fig->n_panels; i++) {
        v[i].frame.w -= legend_w + 12;
        set_left(&v[i], left);
        v[i].legend.x = v[i].frame.x + v[i].frame.w + 10;
        v[i].legend.y = v[i].frame.y;
    }
}

static void draw_panel(cairo_t *cr, const ssm_plot_panel *p, const view *v) {
    draw_axes(cr, v, p);
    if (!v->any) {
        font(cr, 12, 0);
        cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
        text_at(cr, "no data yet", v->r.x + v->r.w / 2, v->r.y + v->r.h / 2, 0.5, 0.5);
        return;
    }
    cairo_save(cr);
    cairo_rectangle(cr, v->frame.x, v->frame.y, v->frame.w, v->frame.h);
    cairo_clip(cr);
    for (int k = 0; k < p->n_series; k++) draw_series(cr, v, &p->series[k], p->log_y);
    cairo_restore(cr);
    if (v->rows) draw_legend(cr, p, v->legend);
    draw_best_labels(cr, v, p, v->rows ? v->legend : (rect){0, 0, 0, 0});
}

static int draw(cairo_surface_t *surface, const ssm_plot_figure *fig) {
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double h = (double)fig->height / fig->n_panels, left = 0;
    view *v = malloc(sizeof *v * (size_t)fig->n_panels);
    SSM_CHECK(v, "plot: out of memory");
    for (int i = 0; i < fig->n_panels; i++) {
        layout_panel(cr, &fig->panels[i], (rect){0, i * h, fig->width, h}, &v[i]);
        left = fmax(left, v[i].frame.x - v[i].panel.x);
    }
    for (int i = 0; i < fig->n_panels; i++) set_left(&v[i], left);
    place_legends(cr, fig, v, left);
    for (int i = 0; i < fig->n_panels; i++) draw_panel(cr, &fig->panels[i], &v[i]);
    free(v);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    return st == CAIRO_STATUS_SUCCESS ? SSM_OK : ssm_error("cairo: %s", cairo_status_to_string(st));
}

static int write_png(const char *tmp, void *arg) {
    const ssm_plot_figure *fig = arg;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, fig->width, fig->height);
    int rc = draw(s, fig);
    cairo_status_t st = rc == SSM_OK ? cairo_surface_write_to_png(s, tmp) : CAIRO_STATUS_SUCCESS;
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS)
        return ssm_error("%s: cannot write: %s", tmp, cairo_status_to_string(st));
    return rc;
}

static int write_svg(const char *tmp, void *arg) {
    const ssm_plot_figure *fig = arg;
    cairo_surface_t *s = cairo_svg_surface_create(tmp, fig->width, fig->height);
    cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
    int rc = draw(s, fig);
    cairo_surface_finish(s); /* the file is written here */
    cairo_status_t st = cairo_surface_status(s);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS)
        return ssm_error("%s: cannot write: %s", tmp, cairo_status_to_string(st));
    return rc;
}

int ssm_plot_write(const char *path, const ssm_plot_figure *fig) {
    int format = ssm_plot_format(path);
    if (!format) return ssm_error("%s: the plot's file name must end in .png or .svg", path);
    if (fig->n_panels < 1 || fig->width < 200 || fig->height < 120 * fig->n_panels)
        return ssm_error("%s: a %dx%d figure of %d panel(s) is too small (at least 200 wide, "
                         "120 high a panel)", path, fig->width, fig->height, fig->n_panels);
    return ssm_replace_file(path, format == 1 ? write_png : write_svg, (void *)fig);
}

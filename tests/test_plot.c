/* Plots: the metrics.jsonl reader (good, malformed, unfinished files), the pictures
 * (a PNG of the asked size showing the curve's colour, decoded with libpng; an SVG that
 * parses, with expat, and holds the <path> elements plot.h's layout predicts), ssmplot's
 * command line, and the curves.png ssmtrain leaves in its run folder. */
#include <cairo.h>
#include <expat.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "curves.h"
#include "log.h"
#include "metrics.h"
#include "plot.h"
#include "testutil.h"

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

static const char *ROW_TRAIN =
    "{\"step\": %d, \"epoch\": %g, \"time_s\": %g, \"split\": \"train\", \"loss\": %g, "
    "\"acc\": %g, \"lr\": 0.001, \"grad_norm\": 1.5, \"tokens_per_s\": 1000.0}\n";
static const char *ROW_VAL =
    "{\"step\": %d, \"epoch\": %g, \"time_s\": %g, \"split\": \"val\", \"loss\": %g, \"acc\": %g}\n";

/* dir/metrics.jsonl of a run of `steps` steps (val every 10), losses falling with seed's
 * offset; dir/config.ini naming its layer and task. */
static void fake_run(const char *dir, int steps, double seed) {
    char path[700];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int s = 1; s <= steps; s++) {
        double loss = 2.0 * exp(-s / 40.0) + 0.2 + seed * 0.1;
        fprintf(f, ROW_TRAIN, s, s / 20.0, s * 0.5, loss, 1 - loss / 2.5);
        if (s % 10 == 0) fprintf(f, ROW_VAL, s, s / 20.0, s * 0.5 + 0.1, loss + 0.1, 1 - loss / 2.3);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/config.ini", dir);
    const char *ini = "; saved by ssmtrain\n[model]\nlayer = s5\nd_model = 8\n[data]\ntask = listops\n";
    tu_spit(path, ini, strlen(ini));
}

static char *path_in(const char *dir, const char *name) {
    static char buf[4][700];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* ------------------------------------------------------------ the reader */

START_TEST(reader_good) {
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    const char *text =
        "{\"step\": 1, \"epoch\": 0.1, \"time_s\": 0.5, \"split\": \"train\", \"loss\": 2.0, "
        "\"acc\": 0.1, \"lr\": 0.001, \"grad_norm\": 1.5, \"tokens_per_s\": 1000.0}\n"
        "\n"
        "{\"step\": 1, \"epoch\": 0.1, \"split\": \"val\", \"loss\": 1.9, \"acc\": 0.2}\n"
        "{\"step\": 2, \"epoch\": 0.2, \"time_s\": 3, \"split\": \"test\", \"loss\": 1.8, "
        "\"acc\": 0.3, \"ckpt\": \"best\", \"ckpt_step\": 1}\n";
    tu_spit(path_in(dir, "metrics.jsonl"), text, strlen(text));
    ssm_metrics_table t;
    ck_assert_msg(ssm_metrics_read(path_in(dir, "metrics.jsonl"), &t) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_int_eq(t.n, 3);
    ck_assert_int_eq(t.skipped_line, 0);
    ck_assert_str_eq(t.rows[0].split, "train");
    ck_assert_int_eq(t.rows[0].step, 1);
    ck_assert_double_eq(t.rows[0].time_s, 0.5);
    ck_assert_double_eq(t.rows[0].lr, 0.001);
    ck_assert_double_eq(t.rows[0].tokens_per_s, 1000);
    ck_assert_str_eq(t.rows[1].split, "val");
    ck_assert_double_eq(t.rows[1].loss, 1.9);
    ck_assert(isnan(t.rows[1].lr) && isnan(t.rows[1].time_s)); /* absent: NaN */
    ck_assert_str_eq(t.rows[2].split, "test");
    ck_assert_double_eq(t.rows[2].acc, 0.3);
    ssm_metrics_table_free(&t);
    tu_rm_tree(dir);
}
END_TEST

/* A line that is not a row: an error naming file:line, whatever the fault. */
static const struct {
    const char *line, *why;
} bad_lines[] = {
    {"{\"step\": 3, \"split\": \"train\", \"loss\": }", "not a JSON object"},
    {"[1, 2]", "not a JSON object"},
    {"{\"step\": 3, \"split\": \"val\"} trailing", "not a JSON object"},
    {"{\"epoch\": 1, \"split\": \"val\"}", "no numeric \"step\""},
    {"{\"step\": \"3\", \"split\": \"val\"}", "no numeric \"step\""},
    {"{\"step\": 3, \"loss\": 1}", "no string \"split\""},
};

START_TEST(reader_malformed) {
    char dir[512], text[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(text, sizeof text, ROW_TRAIN, 1, 0.1, 0.1, 2.0, 0.1);
    snprintf(text + strlen(text), sizeof text - strlen(text), ROW_VAL, 1, 0.1, 0.2, 2.0, 0.1);
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s\n", bad_lines[_i].line);
    char *path = path_in(dir, "metrics.jsonl"), want[800];
    tu_spit(path, text, strlen(text));
    ssm_metrics_table t;
    ck_assert_int_eq(ssm_metrics_read(path, &t), SSM_ERR);
    snprintf(want, sizeof want, "%s:3: %s", path, bad_lines[_i].why);
    ck_assert_contains(ssm_last_error(), want);
    ck_assert_ptr_null(t.rows);
    tu_rm_tree(dir);
}
END_TEST

/* The last line without its newline is being written: left out, and its number told;
 * a finished file that lacks only its last newline loses that row the same way. */
START_TEST(reader_unfinished_last_line) {
    char dir[512], text[800];
    tu_tmpdir(dir, sizeof dir);
    snprintf(text, sizeof text, ROW_TRAIN, 1, 0.1, 0.1, 2.0, 0.1);
    snprintf(text + strlen(text), sizeof text - strlen(text), ROW_VAL, 1, 0.1, 0.2, 2.0, 0.1);
    strcat(text, _i ? "{\"step\": 2, \"split\": \"val\"}" : "{\"step\": 2, \"epo");
    char *path = path_in(dir, "metrics.jsonl");
    tu_spit(path, text, strlen(text));
    ssm_metrics_table t;
    ck_assert_msg(ssm_metrics_read(path, &t) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(t.n, 2);
    ck_assert_int_eq(t.skipped_line, 3);
    ssm_metrics_table_free(&t);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ pictures */

/* A PNG decoded to RGB (malloc'd), with its size. */
static unsigned char *read_png(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
    img.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(img));
    ck_assert_ptr_nonnull(px);
    ck_assert_msg(png_image_finish_read(&img, NULL, px, 0, NULL), "%s: %s", path, img.message);
    *w = (int)img.width, *h = (int)img.height;
    return px;
}

/* Pixels not white, and pixels within 6 per channel of palette colour c. */
static void count_pixels(const unsigned char *px, int n, int c, int *inked, int *coloured) {
    unsigned char rgb[3];
    ssm_plot_color(c, rgb);
    *inked = *coloured = 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *p = px + 3 * i;
        *inked += p[0] != 255 || p[1] != 255 || p[2] != 255;
        *coloured += abs(p[0] - rgb[0]) <= 6 && abs(p[1] - rgb[1]) <= 6 && abs(p[2] - rgb[2]) <= 6;
    }
}

/* n points of a noisy falling curve. */
static void curve(double *x, double *y, int n, double shift) {
    for (int i = 0; i < n; i++) x[i] = 10 * i, y[i] = 1.0 / (1 + 0.1 * i) + shift + 0.02 * sin(i);
}

START_TEST(png_size_and_curve) {
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    double x[50], y[50];
    curve(x, y, 50, 0);
    int colour = _i; /* the curve's palette colour: it must appear, the other must not */
    ssm_plot_series s = {x, y, 50, "val", colour, SSM_PLOT_MARKED, -1};
    ssm_plot_panel p = {.x_label = "step", .y_label = "loss", .series = &s, .n_series = 1};
    ssm_plot_figure fig = {640, 360, &p, 1};
    char *path = path_in(dir, "a.png");
    ck_assert_msg(ssm_plot_write(path, &fig) == SSM_OK, "%s", ssm_last_error());
    ck_assert(!tu_exists(path_in(dir, "a.png.tmp")));
    int w, h, inked, coloured, other_inked, other;
    unsigned char *px = read_png(path, &w, &h);
    ck_assert_int_eq(w, 640);
    ck_assert_int_eq(h, 360);
    count_pixels(px, w * h, colour, &inked, &coloured);
    count_pixels(px, w * h, 1 - colour, &other_inked, &other);
    ck_assert_msg(inked > w * h / 100 && inked < w * h / 2, "%d of %d pixels inked", inked, w * h);
    ck_assert_msg(coloured > 100, "only %d pixels of the curve's colour", coloured);
    ck_assert_int_eq(other, 0);
    free(px);
    /* a blank panel (nothing drawable yet) still has its axes, and no curve */
    s.n = 0;
    ck_assert_msg(ssm_plot_write(path, &fig) == SSM_OK, "%s", ssm_last_error());
    px = read_png(path, &w, &h);
    count_pixels(px, w * h, colour, &inked, &coloured);
    ck_assert_int_gt(inked, 500);
    ck_assert_int_eq(coloured, 0);
    free(px);
    tu_rm_tree(dir);
}
END_TEST

/* <path> elements outside glyph definitions, with the root's width; 0 parsed or not. */
typedef struct {
    int paths, defs, root_seen;
    char width[32];
} svg_count;

static void XMLCALL svg_start(void *user, const XML_Char *name, const XML_Char **attr) {
    svg_count *c = user;
    if (!c->root_seen) {
        c->root_seen = 1;
        ck_assert_str_eq(name, "svg");
        for (int i = 0; attr[i]; i += 2)
            if (!strcmp(attr[i], "width")) snprintf(c->width, sizeof c->width, "%s", attr[i + 1]);
    }
    if (!strcmp(name, "defs")) c->defs++;
    if (!strcmp(name, "path") && !c->defs) c->paths++;
}

static void XMLCALL svg_end(void *user, const XML_Char *name) {
    svg_count *c = user;
    if (!strcmp(name, "defs")) c->defs--;
}

static svg_count parse_svg(const char *path) {
    size_t len;
    char *text = tu_slurp(path, &len);
    ck_assert_msg(text != NULL, "no %s", path);
    svg_count c = {0};
    XML_Parser p = XML_ParserCreate(NULL);
    XML_SetUserData(p, &c);
    XML_SetElementHandler(p, svg_start, svg_end);
    int ok = XML_Parse(p, text, (int)len, 1) == XML_STATUS_OK;
    ck_assert_msg(ok, "%s:%lu: %s", path, (unsigned long)XML_GetCurrentLineNumber(p),
                  XML_ErrorString(XML_GetErrorCode(p)));
    XML_ParserFree(p);
    free(text);
    return c;
}

/* N series, styles in turn FAINT, MARKED with its best ringed, LINE: plot.h's count. */
START_TEST(svg_paths_as_laid_out) {
    int n = _i + 1;
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    double x[6][40], y[6][40];
    ssm_plot_series s[6];
    int want = 3 + 1 + n; /* the panel's grid, frame, ticks; the legend's box and samples */
    for (int k = 0; k < n; k++) {
        curve(x[k], y[k], 40, 0.1 * k);
        int style = k % 3 == 0 ? SSM_PLOT_FAINT : k % 3 == 1 ? SSM_PLOT_MARKED : SSM_PLOT_LINE;
        s[k] = (ssm_plot_series){x[k], y[k], 40, "series", k, style, style == SSM_PLOT_MARKED ? -1 : 0};
        want += 1 + 2 * (style == SSM_PLOT_MARKED);
    }
    ssm_plot_panel p = {.title = "t", .x_label = "step", .y_label = "loss", .log_y = _i == 2,
                        .series = s, .n_series = n};
    ssm_plot_figure fig = {500, 300, &p, 1};
    char *path = path_in(dir, "a.svg");
    ck_assert_msg(ssm_plot_write(path, &fig) == SSM_OK, "%s", ssm_last_error());
    svg_count c = parse_svg(path);
    ck_assert_msg(c.paths == want, "%d series: %d <path> elements, the layout says %d", n,
                  c.paths, want);
    ck_assert_msg(!strncmp(c.width, "500", 3), "width %s", c.width);
    tu_rm_tree(dir);
}
END_TEST

/* Runs through the curves layer: per run a train line (1) and a val line with dots and a
 * best ring (3); the legend lists both of each run. Two panels: each counts its own. */
START_TEST(svg_paths_of_runs) {
    int n = _i + 1;
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    ssm_curves_run runs[3];
    char sub[3][600];
    for (int r = 0; r < n; r++) {
        snprintf(sub[r], sizeof sub[r], "%s/run%d", dir, r);
        ck_assert_int_eq(mkdir(sub[r], 0755), 0);
        fake_run(sub[r], 60, r);
        ck_assert_msg(ssm_curves_load(&runs[r], sub[r]) == SSM_OK, "%s", ssm_last_error());
        ck_assert_str_eq(runs[r].about, " (s5, listops)");
    }
    ssm_curves_opts o = {.metrics = {"loss", "acc"}, .n_metrics = 2, .x = SSM_CURVES_EPOCH,
                         .smooth = 5, .width = 700, .height = 600};
    char *path = path_in(dir, "runs.svg");
    ck_assert_msg(ssm_curves_write(path, runs, n, &o) == SSM_OK, "%s", ssm_last_error());
    svg_count c = parse_svg(path);
    int per_panel = 3 + n * (1 + 3) + 1 + 2 * n;
    ck_assert_int_eq(c.paths, 2 * per_panel);
    for (int r = 0; r < n; r++) ssm_curves_run_free(&runs[r]);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ ssmplot */

static int ssmplot(const char *dir, char **out, ...) {
    va_list ap;
    va_start(ap, out);
    int rc = tu_run_toolv("ssmplot", dir, out, ap);
    va_end(ap);
    return rc;
}

START_TEST(ssmplot_command_line) {
    char dir[512], run[600], *out;
    tu_tmpdir(dir, sizeof dir);
    snprintf(run, sizeof run, "%s/run", dir);
    ck_assert_int_eq(mkdir(run, 0755), 0);
    fake_run(run, 50, 0);
    int rc = ssmplot(dir, &out, "--help", NULL);
    ck_assert_int_eq(rc, 0);
    const char *opts[] = {"-o, --output", "--metric", "--x step|epoch|time", "--log-y",
                          "--smooth N", "--width W", "--height H", "Exit status"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++) ck_assert_contains(out, opts[i]);
    for (const char *l = out; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0))
        ck_assert_msg(strcspn(l, "\n") <= 80, "--help line over 80 columns: %.90s", l);
    free(out);
    /* usage errors: 2, nothing written */
    const char *bad[][3] = {{"--metric", "perplexity", NULL}, {"--x", "wall", NULL},
                            {"-o", "a.jpg", NULL},           {"--smooth", "0", NULL},
                            {"--width", "50", NULL},         {"--bogus", NULL, NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rc = ssmplot(dir, &out, run, bad[i][0], bad[i][1], NULL);
        ck_assert_msg(rc == 2, "%s: exit %d:\n%s", bad[i][0], rc, out);
        ck_assert_contains(out, "--help");
        free(out);
    }
    rc = ssmplot(dir, &out, NULL);
    ck_assert_int_eq(rc, 2);
    ck_assert_contains(out, "missing RUN_DIR");
    free(out);
    ck_assert(!tu_exists(path_in(dir, "loss.png")));
    /* every option at once, into an SVG */
    char svg[700];
    snprintf(svg, sizeof svg, "%s/acc.svg", dir);
    rc = ssmplot(dir, &out, run, run, "-o", svg, "--metric=acc", "--x", "time", "--log-y",
                 "--smooth", "3", "--width", "640", "--height=400", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    free(out);
    svg_count c = parse_svg(svg);
    ck_assert_msg(!strncmp(c.width, "640", 3), "width %s", c.width);
    /* a train-only metric */
    rc = ssmplot(dir, &out, run, "--metric", "tokens_per_s", "-o", path_in(dir, "tps.png"), NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert(tu_exists(path_in(dir, "tps.png")));
    free(out);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(ssmplot_data_errors) {
    char dir[512], run[600], *out, text[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(run, sizeof run, "%s/run", dir);
    /* no such run: 1, naming the file */
    int rc = ssmplot(dir, &out, run, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_contains(out, "run/metrics.jsonl");
    free(out);
    ck_assert_int_eq(mkdir(run, 0755), 0);
    /* malformed line 2: 1, naming file:line */
    snprintf(text, sizeof text, ROW_TRAIN, 1, 0.1, 0.1, 2.0, 0.1);
    strcat(text, "{\"step\": 2, \"split\": \"val\", \"loss\": nan}\n");
    tu_spit(path_in(run, "metrics.jsonl"), text, strlen(text));
    rc = ssmplot(dir, &out, run, NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_contains(out, "run/metrics.jsonl:2: not a JSON object");
    free(out);
    /* an unfinished last line: a warning, and the picture */
    snprintf(text, sizeof text, ROW_TRAIN, 1, 0.1, 0.1, 2.0, 0.1);
    strcat(text, "{\"step\": 2, \"spl");
    tu_spit(path_in(run, "metrics.jsonl"), text, strlen(text));
    rc = ssmplot(dir, &out, run, "-o", path_in(dir, "loss.png"), NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert(tu_exists(path_in(dir, "loss.png")));
    ck_assert_contains(out, "warning: ");
    ck_assert_contains(out, "run/metrics.jsonl:2: unfinished last line");
    free(out);
    /* --x time of rows without time_s (an older ssmtrain) */
    const char *old = "{\"step\": 1, \"epoch\": 0.1, \"split\": \"train\", \"loss\": 2, \"acc\": 0}\n";
    tu_spit(path_in(run, "metrics.jsonl"), old, strlen(old));
    rc = ssmplot(dir, &out, run, "--x", "time", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_contains(out, "no time_s");
    free(out);
    tu_rm_tree(dir);
}
END_TEST

/* ------------------------------------------------------------ ssmtrain's curves.png */

static const char *TINY = "[model]\ntask = classification\nd_model = 8\nn_layers = 1\n"
                          "layer = s4d\npooling = last\n[layer]\nd_state = 4\n"
                          "[data]\ntask = recall\nseq_len = 16\nn_train = 64\nn_val = 32\n"
                          "n_test = 32\n[optim]\nlr = 0.01\n[train]\nseed = 3\nbatch_size = 8\n"
                          "max_steps = 24\nlog_every = 2\neval_every = 8\nthreads = 1\n";

START_TEST(ssmtrain_leaves_curves_png) {
    char dir[512], cfg[600], run[600], *out;
    tu_tmpdir(dir, sizeof dir);
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", dir);
    tu_spit(cfg, TINY, strlen(TINY));
    snprintf(run, sizeof run, "%s/run", dir);
    int rc = tu_run_tool("ssmtrain", dir, &out, cfg, "--out", run, NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_ptr_null(strstr(out, "warning"));
    free(out);
    ck_assert(!tu_exists(path_in(run, "curves.png.tmp")));
    int w, h, inked, coloured;
    unsigned char *px = read_png(path_in(run, "curves.png"), &w, &h);
    ck_assert_int_eq(w, 800);
    ck_assert_int_eq(h, 600);
    count_pixels(px, w * h, 0, &inked, &coloured);
    ck_assert_int_gt(coloured, 100);
    free(px);
    /* every row has time_s, not decreasing */
    ssm_metrics_table t;
    ck_assert_msg(ssm_metrics_read(path_in(run, "metrics.jsonl"), &t) == SSM_OK, "%s",
                  ssm_last_error());
    ck_assert_int_gt(t.n, 12);
    for (int i = 0; i < t.n; i++) {
        ck_assert(t.rows[i].time_s >= 0);
        if (i) ck_assert(t.rows[i].time_s >= t.rows[i - 1].time_s);
    }
    ssm_metrics_table_free(&t);
    /* curves.png alone marks the folder as a run's: refused, and --overwrite removes it */
    const char *others[] = {"config.ini", "metrics.jsonl", "ckpt/last.h5", "ckpt/best.h5"};
    for (int i = 0; i < 4; i++) remove(path_in(run, others[i]));
    rc = tu_run_tool("ssmtrain", dir, &out, cfg, "--out", run, NULL);
    ck_assert_msg(rc == 2, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "curves.png");
    free(out);
    rc = tu_run_tool("ssmtrain", dir, &out, cfg, "--out", run, "--overwrite", "--set",
                     "train.eval_every=100", "--set", "train.max_steps=4", NULL);
    ck_assert_msg(rc == 0, "exit %d:\n%s", rc, out);
    ck_assert_contains(out, "curves.png");
    free(out);
    ck_assert(tu_exists(path_in(run, "curves.png"))); /* redrawn by the final validation */
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("plot");
    TCase *t = tcase_create("plot");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, reader_good);
    tcase_add_loop_test(t, reader_malformed, 0, (int)(sizeof bad_lines / sizeof bad_lines[0]));
    tcase_add_loop_test(t, reader_unfinished_last_line, 0, 2);
    tcase_add_loop_test(t, png_size_and_curve, 0, 2);
    tcase_add_loop_test(t, svg_paths_as_laid_out, 0, 6);
    tcase_add_loop_test(t, svg_paths_of_runs, 0, 3);
    tcase_add_test(t, ssmplot_command_line);
    tcase_add_test(t, ssmplot_data_errors);
    tcase_add_test(t, ssmtrain_leaves_curves_png);
    suite_add_tcase(s, t);
    int rc = tu_run(s, 1);
    cairo_debug_reset_static_data(); /* cairo's font caches: valgrind then sees no leak */
    return rc;
}

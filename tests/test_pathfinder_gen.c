/* Generated data sets (data/pathfinder_*.c, data/listops_gen.c, tools/ssmdata):
 *   - Pathfinder: same seed -> same pixels, index by index and whatever came before;
 *     1 and 2 threads -> the same files;
 *   - labels checked by this file's own flood fill over the non-zero pixels (joining
 *     pixels within the documented link radius): the two markers are connected
 *     exactly when the label is 1, on every image (200 at 32x32, 8 at 128x128);
 *   - the PNGs decode (libpng, read here) to the generator's pixels, the metadata
 *     lines have LRA's 11 fields with the right values, an interrupted set resumes,
 *     and the release's reader (data/pathfinder.c) reads the set back;
 *   - ssmdata: --help, exit 2 on bad command lines, 1 naming the path on an I/O error;
 *     the ListOps TSV it writes (header, CRLF) reads back through ssm_listops_read with
 *     labels equal to ssm_listops_eval's. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "listops.h"
#include "log.h"
#include "pathfinder.h"
#include "pathfinder_gen.h"
#include "pathfinder_write.h"
#include "testutil.h"

/* ---- the test's own image tools ---- */

/* Marks in `seen` the group of non-zero pixels reached from pixel `start`, each
 * step at most sqrt(r2) between pixel centres; queue holds n*n ints. */
static void flood(const uint8_t *px, int n, int r2, int start, char *seen, int *queue) {
    int head = 0, tail = 0, r = 0;
    while ((r + 1) * (r + 1) <= r2) r++;
    queue[tail++] = start;
    seen[start] = 1;
    while (head < tail) {
        int c = queue[head++], cy = c / n, cx = c % n;
        for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++) {
                int y = cy + dy, x = cx + dx;
                if (dy * dy + dx * dx > r2 || y < 0 || y >= n || x < 0 || x >= n) continue;
                if (px[y * n + x] && !seen[y * n + x]) seen[y * n + x] = 1, queue[tail++] = y * n + x;
            }
    }
}

/* Is (y1, x1) reached from (y0, x0)? */
static int connected(const uint8_t *px, int n, int r2, int y0, int x0, int y1, int x1) {
    if (!px[y0 * n + x0] || !px[y1 * n + x1]) return 0;
    int *queue = malloc((size_t)n * n * sizeof *queue);
    char *seen = calloc((size_t)n * n, 1);
    ck_assert(queue && seen);
    flood(px, n, r2, y0 * n + x0, seen, queue);
    int found = seen[y1 * n + x1];
    free(queue);
    free(seen);
    return found;
}

/* The number of groups of non-zero pixels. */
static int components(const uint8_t *px, int n, int r2) {
    int *queue = malloc((size_t)n * n * sizeof *queue), count = 0;
    char *seen = calloc((size_t)n * n, 1);
    ck_assert(queue && seen);
    for (int q = 0; q < n * n; q++)
        if (px[q] && !seen[q]) flood(px, n, r2, q, seen, queue), count++;
    free(queue);
    free(seen);
    return count;
}

static uint8_t *read_png(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png))) ck_abort_msg("%s: not a readable PNG", path);
    png_init_io(png, f);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    ck_assert_int_eq(png_get_bit_depth(png, info), 8);
    ck_assert_int_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_GRAY);
    uint8_t *px = malloc((size_t)*w * *h);
    for (int y = 0; y < *h; y++) png_read_row(png, px + (size_t)y * *w, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return px;
}

static ssm_pathfinder_params preset(int res) {
    ssm_pathfinder_params p;
    ck_assert(ssm_pathfinder_preset(res, &p));
    return p;
}

/* ---- generator ---- */

START_TEST(same_seed_same_pixels) {
    ssm_pathfinder_params p = preset(32);
    ssm_pathfinder_ws *a = ssm_pathfinder_ws_new(&p), *b = ssm_pathfinder_ws_new(&p);
    ssm_pathfinder_image ia, ib;
    uint8_t first[12][32 * 32];
    int labels[12], differ = 0;
    for (int i = 0; i < 12; i++) {
        ck_assert_int_eq(ssm_pathfinder_generate(&p, 5, (uint64_t)i, a, &ia), SSM_OK);
        memcpy(first[i], ia.pixels, sizeof first[i]);
        labels[i] = ia.label;
    }
    /* backwards on another workspace: nothing carries over from earlier images */
    for (int i = 11; i >= 0; i--) {
        ck_assert_int_eq(ssm_pathfinder_generate(&p, 5, (uint64_t)i, b, &ib), SSM_OK);
        ck_assert_msg(memcmp(first[i], ib.pixels, sizeof first[i]) == 0, "image %d differs", i);
        ck_assert_int_eq(labels[i], ib.label);
        ck_assert_int_eq(ssm_pathfinder_generate(&p, 6, (uint64_t)i, b, &ib), SSM_OK);
        differ += memcmp(first[i], ib.pixels, sizeof first[i]) != 0;
    }
    ck_assert_int_eq(differ, 12); /* another seed, other images */
    ssm_pathfinder_ws_free(a);
    ssm_pathfinder_ws_free(b);
}
END_TEST

/* The labels against the pixels, on n images of seed 11. */
static void check_labels(int res, int n) {
    ssm_pathfinder_params p = preset(res);
    ssm_pathfinder_ws *w = ssm_pathfinder_ws_new(&p);
    ssm_pathfinder_image im;
    int ones = 0, margins[4] = {0}, crowded = 0, distractors = 0;
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(ssm_pathfinder_generate(&p, 11, (uint64_t)i, w, &im), SSM_OK);
        int r2 = ssm_pathfinder_link_r2(im.margin);
        for (int k = 0; k < 2; k++) /* a marker is there: bright pixels at its centre */
            ck_assert_int_ge(im.pixels[im.marker_y[k] * res + im.marker_x[k]], 128);
        int c = connected(im.pixels, res, r2, im.marker_y[0], im.marker_x[0], im.marker_y[1],
                          im.marker_x[1]);
        ck_assert_msg(c == im.label, "%dx%d image %d: label %d, markers %sconnected", res, res, i,
                      im.label, c ? "" : "not ");
        ones += im.label;
        margins[im.margin]++;
        distractors += im.n_distractors;
        /* sparse at 128: the distractors make more groups than the two snakes */
        if (res == 128) crowded += components(im.pixels, res, r2) >= 3;
    }
    ck_assert_int_ge(ones, n / 4); /* both labels, about evenly */
    ck_assert_int_le(ones, n - n / 4);
    /* LRA asks for 5 (32) and 8 (128) distractors; the original places ~4.6 and ~7.7 */
    ck_assert_int_ge(distractors, (res == 32 ? 4 : 7) * n);
    if (res == 128) ck_assert_int_ge(crowded, n * 3 / 4);
    if (res == 32) ck_assert_int_eq(margins[1], n);
    else ck_assert(margins[2] > 0 && margins[3] > 0 && margins[2] + margins[3] == n);
    ssm_pathfinder_ws_free(w);
}

START_TEST(labels_by_flood_fill_32) { check_labels(32, 200); }
END_TEST

START_TEST(labels_by_flood_fill_128) { check_labels(128, 8); }
END_TEST

START_TEST(bad_parameters) {
    ssm_pathfinder_params p = preset(32);
    ck_assert_int_eq(ssm_pathfinder_check(&p), SSM_OK);
    ck_assert_int_eq(ssm_pathfinder_preset(64, &p), 0);
    p = preset(32);
    p.n_paddle_margin = 0;
    ck_assert_int_eq(ssm_pathfinder_check(&p), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "paddle_margin"));
    p = preset(128);
    p.seed_distance = 40; /* 4 * 40 >= 128: no room for the first tail */
    ck_assert_int_eq(ssm_pathfinder_check(&p), SSM_ERR);
    ck_assert_ptr_nonnull(strstr(ssm_last_error(), "seed_distance"));
}
END_TEST

/* ---- files ---- */

static char *read_all(const char *path, size_t *n) {
    char *s = tu_slurp(path, n);
    ck_assert_msg(s != NULL, "cannot read %s", path);
    return s;
}

/* Every file under the set of dir (batches 0..nb-1 of count images) equal in a and b. */
static void same_files(const char *a, const char *b, int64_t n, int64_t bs) {
    char pa[1024], pb[1024];
    for (int64_t i = 0; i < n; i++) {
        const char *fmt = "%s/curv_contour_length_14/imgs/%lld/sample_%lld.png";
        snprintf(pa, sizeof pa, fmt, a, (long long)(i / bs), (long long)(i % bs));
        snprintf(pb, sizeof pb, fmt, b, (long long)(i / bs), (long long)(i % bs));
        size_t na, nb;
        char *x = read_all(pa, &na), *y = read_all(pb, &nb);
        ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s and %s differ", pa, pb);
        free(x);
        free(y);
    }
    for (int64_t b2 = 0; b2 * bs < n; b2++) {
        snprintf(pa, sizeof pa, "%s/curv_contour_length_14/metadata/%lld.npy", a, (long long)b2);
        snprintf(pb, sizeof pb, "%s/curv_contour_length_14/metadata/%lld.npy", b, (long long)b2);
        size_t na, nb;
        char *x = read_all(pa, &na), *y = read_all(pb, &nb);
        ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s and %s differ", pa, pb);
        free(x);
        free(y);
    }
}

static void write_set(const ssm_pathfinder_params *p, const char *dir, int64_t n, int64_t bs,
                      int threads, uint64_t seed) {
    ssm_pathfinder_set_opts o = {.n = n, .batch_size = bs, .seed = seed, .threads = threads};
    ck_assert_msg(ssm_pathfinder_write_set(p, dir, &o) == SSM_OK, "%s", ssm_last_error());
}

START_TEST(threads_same_files) {
    char dir[512], one[600], two[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(one, sizeof one, "%s/one", dir);
    snprintf(two, sizeof two, "%s/two", dir);
    ssm_pathfinder_params p = preset(32);
    write_set(&p, one, 23, 10, 1, 3); /* 3 batches, the last one of 3 */
    write_set(&p, two, 23, 10, 2, 3);
    same_files(one, two, 23, 10);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/curv_contour_length_14/imgs/2/sample_3.png", one);
    ck_assert(!tu_exists(tmp)); /* nothing past n */
    snprintf(tmp, sizeof tmp, "%s/curv_contour_length_14/imgs/2/sample_2.png.tmp", one);
    ck_assert(!tu_exists(tmp));
    tu_rm_tree(dir);
}
END_TEST

/* PNGs decode to generate()'s pixels; metadata lines as LRA's (11 fields). */
static void check_set(int res, int64_t n, int64_t bs) {
    char dir[512], path[800];
    tu_tmpdir(dir, sizeof dir);
    ssm_pathfinder_params p = preset(res);
    write_set(&p, dir, n, bs, 2, 21);
    ssm_pathfinder_ws *w = ssm_pathfinder_ws_new(&p);
    for (int64_t b = 0; b * bs < n; b++) {
        snprintf(path, sizeof path, "%s/curv_contour_length_14/metadata/%lld.npy", dir, (long long)b);
        size_t len;
        char *text = read_all(path, &len), *save = NULL;
        int64_t lines = 0;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            int64_t i = b * bs + lines;
            ssm_pathfinder_image im;
            ck_assert_int_eq(ssm_pathfinder_generate(&p, 21, (uint64_t)i, w, &im), SSM_OK);
            char f[11][64];
            int k = 0;
            char *s2 = NULL;
            for (char *t = strtok_r(line, " ", &s2); t; t = strtok_r(NULL, " ", &s2), k++) {
                ck_assert_int_lt(k, 11);
                snprintf(f[k], sizeof f[k], "%s", t);
            }
            ck_assert_int_eq(k, 11);
            char want[64];
            snprintf(want, sizeof want, "imgs/%lld", (long long)b);
            ck_assert_str_eq(f[0], want);
            snprintf(want, sizeof want, "sample_%lld.png", (long long)lines);
            ck_assert_str_eq(f[1], want);
            ck_assert_int_eq(atoll(f[2]), lines);
            ck_assert_int_eq(atoi(f[3]), im.label);
            ck_assert_str_eq(f[4], res == 32 ? "1.0" : "1.8");        /* continuity */
            ck_assert_str_eq(f[5], "14");                             /* contour length */
            ck_assert_str_eq(f[6], "4");                              /* distractor length */
            ck_assert_str_eq(f[7], res == 32 ? "2" : "5");            /* paddle length */
            ck_assert_str_eq(f[8], res == 32 ? "0.5" : "1.5");        /* thickness */
            ck_assert_int_eq(atoi(f[9]), im.margin);
            ck_assert_str_eq(f[10], "1");                             /* paddle contrasts */
            /* the PNG named there decodes to the same pixels */
            char png[900];
            snprintf(png, sizeof png, "%s/curv_contour_length_14/%s/%s", dir, f[0], f[1]);
            int pw, ph;
            uint8_t *px = read_png(png, &pw, &ph);
            ck_assert_int_eq(pw, res);
            ck_assert_int_eq(ph, res);
            ck_assert_msg(memcmp(px, im.pixels, (size_t)res * res) == 0, "%s differs", png);
            free(px);
            lines++;
        }
        ck_assert_int_eq(lines, n - b * bs < bs ? n - b * bs : bs);
        free(text);
    }
    ssm_pathfinder_ws_free(w);
    tu_rm_tree(dir);
}

START_TEST(png_and_metadata_32) { check_set(32, 13, 5); }
END_TEST

START_TEST(png_and_metadata_128) { check_set(128, 3, 2); }
END_TEST

/* The reader of LRA's release takes the generated set: every image, in order. */
START_TEST(release_reader_reads_set) {
    char dir[512];
    tu_tmpdir(dir, sizeof dir);
    ssm_pathfinder_params p = preset(32);
    write_set(&p, dir, 23, 10, 2, 4); /* metadata 0, 1, 2: numeric order is index order */
    ssm_dataset *d;
    int64_t skipped = -1;
    ck_assert_msg(ssm_pathfinder_read(dir, "curv_contour_length_14", 32, &d, &skipped) == SSM_OK,
                  "%s", ssm_last_error());
    ck_assert_int_eq(d->n, 23);
    ck_assert_int_eq(skipped, 0);
    ssm_pathfinder_ws *w = ssm_pathfinder_ws_new(&p);
    for (int64_t i = 0; i < d->n; i++) {
        ssm_pathfinder_image im;
        ck_assert_int_eq(ssm_pathfinder_generate(&p, 4, (uint64_t)i, w, &im), SSM_OK);
        int64_t len;
        const int32_t *px = ssm_dataset_seq(d, i, 0, &len);
        ck_assert_int_eq(len, 32 * 32);
        ck_assert_int_eq(d->labels[i], im.label);
        for (int64_t q = 0; q < len; q++) ck_assert_int_eq(px[q], im.pixels[q]);
    }
    ssm_pathfinder_ws_free(w);
    ssm_dataset_free(d);
    tu_rm_tree(dir);
}
END_TEST

/* A rerun keeps complete batches and redoes the others. */
START_TEST(interrupted_set_resumes) {
    char dir[512], ref[600], path[800], png[800];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ref, sizeof ref, "%s/ref", dir);
    ssm_pathfinder_params p = preset(32);
    write_set(&p, dir, 12, 4, 2, 8);
    write_set(&p, ref, 12, 4, 2, 8);
    /* batch 1 "interrupted": no metadata, a PNG missing, a .tmp left behind */
    snprintf(path, sizeof path, "%s/curv_contour_length_14/metadata/1.npy", dir);
    ck_assert_int_eq(unlink(path), 0);
    snprintf(png, sizeof png, "%s/curv_contour_length_14/imgs/1/sample_2.png", dir);
    ck_assert_int_eq(rename(png, strcat(strcpy(path, png), ".tmp")), 0);
    /* batch 0 complete: marked, so that a rewrite would show */
    snprintf(png, sizeof png, "%s/curv_contour_length_14/imgs/0/sample_0.png", dir);
    tu_spit(png, "kept", 4);
    write_set(&p, dir, 12, 4, 1, 8);
    size_t n;
    char *s = read_all(png, &n);
    ck_assert(n == 4 && !memcmp(s, "kept", 4));
    free(s);
    tu_spit(png, "", 0);
    snprintf(path, sizeof path, "%s/curv_contour_length_14/imgs/0/sample_0.png", ref);
    s = read_all(path, &n);
    tu_spit(png, s, n);
    free(s);
    same_files(dir, ref, 12, 4);
    snprintf(path, sizeof path, "%s/curv_contour_length_14/imgs/1/sample_2.png.tmp", dir);
    ck_assert(!tu_exists(path));
    tu_rm_tree(dir);
}
END_TEST

/* ---- ssmdata ---- */

START_TEST(ssmdata_command_line) {
    char dir[512], out[600], file[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/o", dir);
    char *log;
    ck_assert_int_eq(tu_run_tool("ssmdata", dir, &log, "--help", NULL), 0);
    const char *opts[] = {"--out", "--resolution", "--n", "--batch-size", "--threads", "--seed",
                          "--n-train", "--n-val", "--n-test", "pathx", "listops"};
    for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
        ck_assert_msg(strstr(log, opts[i]) != NULL, "--help lacks %s", opts[i]);
    free(log);
    /* bad command lines: exit 2, nothing written */
    const char *bad[][8] = {
        {"pathfinder", "--n", "5", "--out", out, NULL},                        /* no resolution */
        {"pathfinder", "--resolution", "64", "--n", "5", "--out", out, NULL},
        {"pathx", "--out", out, NULL},                                         /* no --n */
        {"pathx", "--n", "0", "--out", out, NULL},
        {"pathx", "--n", "5", "--out", out, "--threads", "x", NULL},
        {"pathx", "--n", "5", "--out", out, "--colour", NULL},
        {"listops", "--n", "5", "--out", out, NULL},                           /* not listops' */
        {"mnist", "--out", out, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = tu_run_tool("ssmdata", dir, &log, bad[i][0], bad[i][1], bad[i][2], bad[i][3],
                             bad[i][4], bad[i][5], bad[i][6], bad[i][7], NULL);
        ck_assert_msg(rc == 2, "%s ...: exit %d (%s)", bad[i][0], rc, log);
        ck_assert_ptr_nonnull(strstr(log, "--help"));
        free(log);
        ck_assert(!tu_exists(out));
    }
    /* an output folder under a file: exit 1, the path named */
    snprintf(file, sizeof file, "%s/file", dir);
    tu_spit(file, "x", 1);
    snprintf(out, sizeof out, "%s/file/sub", dir);
    ck_assert_int_eq(tu_run_tool("ssmdata", dir, &log, "pathx", "--n", "2", "--out", out, NULL), 1);
    ck_assert_msg(strstr(log, file) != NULL, "%s", log);
    free(log);
    ck_assert_int_eq(tu_run_tool("ssmdata", dir, &log, "listops", "--n-train", "2", "--out", out,
                                 NULL), 1);
    ck_assert_msg(strstr(log, file) != NULL, "%s", log);
    free(log);
    /* a set through the tool equals the library's */
    snprintf(out, sizeof out, "%s/tool", dir);
    ck_assert_int_eq(tu_run_tool("ssmdata", dir, &log, "pathfinder", "--resolution=32", "--n", "7",
                                 "--batch-size", "4", "--seed", "17", "--threads", "2", "--out",
                                 out, NULL), 0);
    ck_assert_msg(strstr(log, "images/s") != NULL, "%s", log);
    free(log);
    char lib[600];
    snprintf(lib, sizeof lib, "%s/lib", dir);
    ssm_pathfinder_params p = preset(32);
    write_set(&p, lib, 7, 4, 1, 17);
    same_files(out, lib, 7, 4);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(ssmdata_listops) {
    char dir[512], out[600], path[700];
    tu_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/listops-1000", dir);
    char *log;
    int rc = tu_run_tool("ssmdata", dir, &log, "listops", "--out", out, "--n-train", "30",
                         "--n-val", "4", "--n-test", "5", "--seed", "2", NULL);
    ck_assert_msg(rc == 0, "%s", log);
    free(log);
    static const char *split[] = {"train", "val", "test"};
    const int64_t count[] = {30, 4, 5};
    int hist[10] = {0};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/basic_%s.tsv", out, split[k]);
        size_t n;
        char *text = read_all(path, &n);
        ck_assert_msg(!strncmp(text, "Source\tTarget\r\n", 15), "%s: header", path);
        int64_t crlf = 0, lf = 0;
        for (size_t i = 0; i < n; i++)
            if (text[i] == '\n') lf++, crlf += i > 0 && text[i - 1] == '\r';
        ck_assert_int_eq(lf, count[k] + 1);
        ck_assert_int_eq(crlf, lf); /* every line ends in CRLF */
        ck_assert(n >= 2 && text[n - 2] == '\r' && text[n - 1] == '\n');
        free(text);
        ssm_dataset *d;
        ck_assert_msg(ssm_listops_read(path, NULL, &d) == SSM_OK, "%s", ssm_last_error());
        ck_assert_int_eq(d->n, count[k]);
        for (int64_t i = 0; i < d->n; i++) {
            int64_t len;
            const int32_t *ids = ssm_dataset_seq(d, i, 0, &len);
            ck_assert_int_gt(len, 500); /* LRA's 500 < length < 2000 */
            ck_assert_int_lt(len, 2000);
            ck_assert_int_eq(ssm_listops_eval(ids, len), d->labels[i]);
            hist[d->labels[i]]++;
        }
        ssm_dataset_free(d);
    }
    int classes = 0;
    for (int v = 0; v < 10; v++) classes += hist[v] > 0;
    ck_assert_int_ge(classes, 4);
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pathfinder_gen");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, same_seed_same_pixels);
    tcase_add_test(t, labels_by_flood_fill_32);
    tcase_add_test(t, labels_by_flood_fill_128);
    tcase_add_test(t, bad_parameters);
    tcase_add_test(t, threads_same_files);
    tcase_add_test(t, png_and_metadata_32);
    tcase_add_test(t, png_and_metadata_128);
    tcase_add_test(t, release_reader_reads_set);
    tcase_add_test(t, interrupted_set_resumes);
    tcase_add_test(t, ssmdata_command_line);
    tcase_add_test(t, ssmdata_listops);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}

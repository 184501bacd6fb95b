/* Import and the pieces under it (tools/import.c, tools/safetensors.c, lib/half.c):
 *   - F16 and BF16 conversions: every 16-bit pattern back and forth; f32 -> 16 bits
 *     against a rounding reference that searches the ordered codes (ties to even,
 *     subnormals, overflow, infinities, NaNs);
 *   - safetensors files that break the spec: each error names the file and the tensor;
 *   - export -> import -> export is byte-identical for every layout (Mamba LM native and
 *     hf, S4D with BatchNorm and S4 as example.py, S5), the imported parameters equal
 *     the originals; F16/BF16/F64 files; sharded files with an index;
 *   - bad inputs: missing, unexpected, misshapen tensors, untied head, config fields
 *     missing or of the wrong type, unsupported architectures;
 *   - the checkpoint it writes: ssmtrain --eval-only and --resume take it; ssminfo. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checkpoint.h"
#include "export.h"
#include "half.h"
#include "import.h"
#include "log.h"
#include "modelcfg.h"
#include "s4.h"
#include "safetensors.h"
#include "testutil.h"
#include "ckptutil.h"

#define ck_assert_contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in: %s", (needle), (hay))

static float f_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The reference: the nearest of the ordered non-negative finite codes 0..max_code
 * (values increase with the code), ties to the even code; at or past the midpoint
 * between the largest finite value and the next power of two: infinity. */
static uint16_t ref_round(double x, float (*dec)(uint16_t), uint16_t max_code, double overflow,
                          uint16_t inf) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs(x);
    if (a >= overflow) return sign | inf;
    int lo = 0, hi = max_code; /* largest code with value <= a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if ((double)dec((uint16_t)mid) <= a) lo = mid;
        else hi = mid - 1;
    }
    if (lo == max_code) return sign | (uint16_t)lo;
    double d0 = a - dec((uint16_t)lo), d1 = dec((uint16_t)(lo + 1)) - a;
    int up = d1 < d0 || (d1 == d0 && (lo & 1));
    return sign | (uint16_t)(lo + up);
}

START_TEST(half_conversions) {
    /* every pattern: decode then encode gives it back (NaNs come back quiet) */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ssm_f16_to_f32((uint16_t)h), g = ssm_bf16_to_f32((uint16_t)h);
        int nan16 = (h & 0x7c00) == 0x7c00 && (h & 0x3ff), nanb = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        ck_assert_int_eq(isnan(f), nan16);
        ck_assert_int_eq(isnan(g), nanb);
        ck_assert_uint_eq(ssm_f32_to_f16(f), nan16 ? (h | 0x200) : h);
        ck_assert_uint_eq(ssm_f32_to_bf16(g), nanb ? (h | 0x40) : h);
    }
    /* known values */
    ck_assert_float_eq(ssm_f16_to_f32(0x3c00), 1.0f);
    ck_assert_float_eq(ssm_f16_to_f32(0xc000), -2.0f);
    ck_assert_float_eq(ssm_f16_to_f32(0x7bff), 65504.0f);
    ck_assert_float_eq(ssm_f16_to_f32(0x0001), ldexpf(1, -24)); /* smallest subnormal */
    ck_assert_float_eq(ssm_f16_to_f32(0x03ff), ldexpf(1023, -24)); /* largest subnormal */
    ck_assert_float_eq(ssm_f16_to_f32(0x0400), ldexpf(1, -14)); /* smallest normal */
    ck_assert(isinf(ssm_f16_to_f32(0x7c00)) && ssm_f16_to_f32(0xfc00) < 0);
    ck_assert_uint_eq(ssm_f16_to_f32(0x8000) == 0 && signbit(ssm_f16_to_f32(0x8000)), 1);
    ck_assert_float_eq(ssm_bf16_to_f32(0x3f80), 1.0f);
    ck_assert_float_eq(ssm_bf16_to_f32(0x4049), 3.140625f);
    /* edges of the f16 rounding */
    ck_assert_uint_eq(ssm_f32_to_f16(65519.0f), 0x7bff);
    ck_assert_uint_eq(ssm_f32_to_f16(65520.0f), 0x7c00);                /* tie, odd: up, to inf */
    ck_assert_uint_eq(ssm_f32_to_f16(ldexpf(1, -25)), 0x0000);          /* tie to even 0 */
    ck_assert_uint_eq(ssm_f32_to_f16(ldexpf(3, -26)), 0x0001);          /* past the tie */
    ck_assert_uint_eq(ssm_f32_to_f16(ldexpf(3, -25)), 0x0002);          /* 1.5 ulp: to even 2 */
    ck_assert_uint_eq(ssm_f32_to_f16(ldexpf(2047, -25)), 0x0400);       /* carries to the normal */
    ck_assert_uint_eq(ssm_f32_to_f16(-INFINITY), 0xfc00);
    ck_assert_uint_eq(ssm_f32_to_bf16(f_of(0x7f7fffff)), 0x7f80);       /* FLT_MAX: rounds to inf */
    ck_assert_uint_eq(ssm_f32_to_bf16(f_of(0x3f808000)), 0x3f80);       /* tie to even */
    ck_assert_uint_eq(ssm_f32_to_bf16(f_of(0x3f818000)), 0x3f82);
    /* random floats of every magnitude against the reference */
    ssm_tensor *u = tu_rand(SSM_F64, SSM_DIMS(200000), 11, 0, 1);
    const double *r = u->data;
    for (int64_t i = 0; i < u->numel; i++) {
        uint32_t bits = (uint32_t)(r[i] * 4294967296.0);
        if (i % 4 == 0) bits = (bits & 0x807fffffu) | ((uint32_t)(100 + i % 45) << 23); /* f16 range */
        float x = f_of(bits);
        if (isnan(x)) continue;
        ck_assert_uint_eq(ssm_f32_to_f16(x), ref_round(x, ssm_f16_to_f32, 0x7bff, 65520.0, 0x7c00));
        ck_assert_uint_eq(ssm_f32_to_bf16(x),
                          ref_round(x, ssm_bf16_to_f32, 0x7f7f, ldexp(0x1ff, 119), 0x7f80));
    }
    ssm_tensor_free(u);
    uint8_t le[4] = {0x00, 0x3c, 0x80, 0x3f};
    float out[2];
    ssm_f16_decode(le, out, 1);
    ssm_bf16_decode(le + 2, out + 1, 1);
    ck_assert_float_eq(out[0], 1.0f);
    ck_assert_float_eq(out[1], 1.0f);
}
END_TEST

/* ---- malformed safetensors ---- */

static void write_st(const char *path, const char *json, size_t data_bytes, long hl_override) {
    size_t jl = strlen(json);
    uint64_t hl = hl_override >= 0 ? (uint64_t)hl_override : jl;
    size_t n = 8 + jl + data_bytes;
    uint8_t *b = calloc(1, n);
    memcpy(b, &hl, 8);
    memcpy(b + 8, json, jl);
    tu_spit(path, b, n);
    free(b);
}

START_TEST(safetensors_malformed) {
    char dir[512], p[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/bad.safetensors", dir);
    struct {
        const char *json;
        size_t data;
        long hl;
        const char *msg[2];
    } cases[] = {
        {"{}", 0, 1000, {"bad header length 1000", NULL}},
        {"{}", 0, 1, {"bad header length 1", NULL}},
        {"{\"a\":1", 0, -1, {"header is not a JSON object", NULL}},
        {"[1]", 0, -1, {"header is not a JSON object", NULL}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, -1,
         {"tensor w", "out of range"}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1,
         {"tensor w", "needs 12"}},
        {"{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
         {"tensor w", "unknown dtype \"Q4\""}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1,
         {"tensor w", "shape"}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, -1, {"tensor w", "data_offsets"}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, -1,
         {"tensors w and v overlap", NULL}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, -1,
         {"bytes 0 .. 4", "belong to no tensor (before w)"}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, -1,
         {"last 4 bytes", NULL}},
        {"{\"__metadata__\":{\"k\":3}}", 0, -1, {"__metadata__ value of \"k\"", NULL}},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, -1,
         {"tensor w appears twice", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_st(p, cases[i].json, cases[i].data, cases[i].hl);
        ssm_st_file f;
        ck_assert_msg(ssm_st_read(p, &f) == SSM_ERR, "case %zu read", i);
        ck_assert_contains(ssm_last_error(), "bad.safetensors");
        for (int k = 0; k < 2 && cases[i].msg[k]; k++) ck_assert_contains(ssm_last_error(), cases[i].msg[k]);
    }
    tu_spit(p, "abc", 3);
    ssm_st_file f;
    ck_assert_int_eq(ssm_st_read(p, &f), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "shorter than the 8-byte header length");
    /* a valid one: metadata, a 0-dim I64, an empty tensor */
    write_st(p, "{\"__metadata__\":{\"k\":\"v\"},\"e\":{\"dtype\":\"F32\",\"shape\":[0],"
                "\"data_offsets\":[0,0]},\"n\":{\"dtype\":\"I64\",\"shape\":[],"
                "\"data_offsets\":[0,8]}}", 8, -1);
    ck_assert_msg(ssm_st_read(p, &f) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(f.n, 2);
    ck_assert_str_eq(ssm_st_meta(&f, "k"), "v");
    ck_assert_int_eq(ssm_st_get(&f, "n")->ndim, 0);
    ck_assert_int_eq(ssm_st_get(&f, "e")->numel, 0);
    ssm_tensor *t;
    ck_assert_int_eq(ssm_st_to_f32(&f, ssm_st_get(&f, "n"), &t), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "tensor n has dtype I64");
    ssm_st_free(&f);
    tu_rm_tree(dir);
}
END_TEST

/* ---- models of every layout, built from config text as the importer builds them ---- */

static const char *const cfg_mamba_lm =
    "[model]\ntask = lm\nlayer = mamba\nd_model = 8\nn_layers = 2\nd_input = 16\npooling = none\n"
    "[layer]\nd_state = 4\nd_conv = 3\ndt_min = 0.002\ndt_max = 0.05\n"
    "[data]\ntask = induction\nseq_len = 16\n";
static const char *const cfg_s4d_bn =
    "[model]\nlayer = s4d\nd_model = 6\nn_layers = 2\nnorm = batch\n[layer]\nd_state = 4\n"
    "[data]\ntask = recall\nseq_len = 16\n[train]\nseed = 5\n";
static const char *const cfg_s4 =
    "[model]\nlayer = s4\nd_model = 4\nn_layers = 1\nprenorm = true\n[layer]\nd_state = 4\n"
    "[data]\ntask = recall\nseq_len = 16\n";
static const char *const cfg_s5 =
    "[model]\nlayer = s5\nd_model = 4\nn_layers = 2\nnorm = rms\n[layer]\nd_state = 4\n"
    "[data]\ntask = recall\nseq_len = 16\n";

static void export_to(const char *ckpt, const char *dir, ssm_export_format fmt) {
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(ckpt, &c) == SSM_OK, "%s", ssm_last_error());
    ck_assert_msg(ssm_export(&c, fmt, dir) == SSM_OK, "%s", ssm_last_error());
    ssm_ckpt_contents_free(&c);
}

static void same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = tu_slurp(a, &na), *y = tu_slurp(b, &nb);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    ck_assert_msg(na == nb && !memcmp(x, y, na), "%s and %s differ", a, b);
    free(x);
    free(y);
}

/* every parameter and buffer of m equals the checkpoint's, bit for bit */
static void same_tensors(const ssm_model *m, const char *ckpt) {
    ssm_ckpt_contents c;
    ck_assert_msg(ssm_ckpt_read_contents(ckpt, &c) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(c.n_params, m->ps->n);
    ck_assert_int_eq(c.has_moments, 0);
    for (int i = 0; i < m->ps->n; i++) {
        ck_assert_str_eq(c.names[i], m->ps->p[i]->name);
        ck_assert_msg(!memcmp(c.values[i]->data, m->ps->p[i]->data, (size_t)m->ps->p[i]->numel * 4),
                      "%s differs", c.names[i]);
    }
    char name[128];
    for (int i = 0; i < ssm_model_n_buffers(m); i++) {
        ssm_tensor *b = ssm_model_buffer(m, i, name, sizeof name);
        int k = c.n_params;
        while (k < c.n && strcmp(c.names[k], name)) k++;
        ck_assert_int_lt(k, c.n);
        ck_assert(!memcmp(c.values[k]->data, b->data, (size_t)b->numel * 4));
    }
    ssm_ckpt_contents_free(&c);
}

static void round_trip(const char *ini, ssm_export_format fmt, const char *layout) {
    char dir[512], ck[600], e1[600], e2[600], imp[600], a[700], b[700];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/m.h5", dir);
    snprintf(e1, sizeof e1, "%s/e1", dir);
    snprintf(e2, sizeof e2, "%s/e2", dir);
    snprintf(imp, sizeof imp, "%s/imported.h5", dir);
    ssm_model *m = tu_saved_model(ini, ck);
    export_to(ck, e1, fmt);
    ssm_import_info info;
    ck_assert_msg(ssm_import(e1, imp, NULL, 0, &info) == SSM_OK, "%s", ssm_last_error());
    ck_assert_str_eq(info.layout, layout);
    ck_assert_int_eq(info.step, 42);
    ck_assert_int_eq(info.n_params, m->ps->numel);
    same_tensors(m, imp);
    export_to(imp, e2, fmt);
    const char *files[] = {"model.safetensors", "config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", e1, files[i]);
        snprintf(b, sizeof b, "%s/%s", e2, files[i]);
        same_file(a, b);
    }
    ssm_model_free(m);
    tu_rm_tree(dir);
}

START_TEST(round_trip_mamba_native) { round_trip(cfg_mamba_lm, SSM_EXPORT_NATIVE, "mamba_ssm"); }
END_TEST
START_TEST(round_trip_mamba_hf) { round_trip(cfg_mamba_lm, SSM_EXPORT_HF, "transformers"); }
END_TEST
START_TEST(round_trip_s4d_batchnorm) { round_trip(cfg_s4d_bn, SSM_EXPORT_NATIVE, "s4_example"); }
END_TEST
START_TEST(round_trip_s4) { round_trip(cfg_s4, SSM_EXPORT_NATIVE, "s4_example"); }
END_TEST
START_TEST(round_trip_s5) { round_trip(cfg_s5, SSM_EXPORT_NATIVE, "ssmtrain"); }
END_TEST

/* ---- rewriting an exported file: tensors dropped, added, converted, reshaped ---- */
typedef struct {
    const char *drop, *add;        /* a tensor left out; an extra F32 [2] tensor */
    const char *dtype;             /* every float tensor stored as F16, BF16 or F64 */
    const char *reshape;           /* this tensor declared [numel] (1-D) */
    const char *perturb;           /* lm_head.weight: one value changed */
    const char *i64;               /* this I64 scalar set to i64_value */
    int64_t i64_value;
} rewrite;

static void rewrite_st(const char *path, const rewrite *rw) {
    ssm_st_file f;
    ck_assert_msg(ssm_st_read(path, &f) == SSM_OK, "%s", ssm_last_error());
    ssm_st_entry *e = calloc((size_t)f.n + 1, sizeof *e);
    void **bufs = calloc((size_t)f.n + 1, sizeof *bufs);
    int n = 0;
    static const float extra[2] = {1, 2};
    for (int i = 0; i < f.n; i++) {
        const ssm_st_tensor *t = &f.t[i];
        if (rw->drop && !strcmp(t->name, rw->drop)) continue;
        ssm_st_entry x = {.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .raw = t->bytes};
        memcpy(x.shape, t->shape, sizeof x.shape);
        if (rw->reshape && !strcmp(t->name, rw->reshape)) x.ndim = 1, x.shape[0] = t->numel;
        if (rw->dtype && !strcmp(t->dtype, "F32")) {
            size_t k = (size_t)t->numel;
            uint8_t *b = calloc(k ? k : 1, 8);
            const float *v = (const float *)t->bytes;
            for (size_t j = 0; j < k; j++) {
                if (!strcmp(rw->dtype, "F64")) {
                    double d = v[j];
                    memcpy(b + 8 * j, &d, 8);
                } else {
                    uint16_t h = !strcmp(rw->dtype, "F16") ? ssm_f32_to_f16(v[j]) : ssm_f32_to_bf16(v[j]);
                    memcpy(b + 2 * j, &h, 2);
                }
            }
            bufs[n] = b;
            x.raw = b;
            x.dtype = rw->dtype;
        }
        if (rw->i64 && !strcmp(t->name, rw->i64)) {
            ck_assert(!strcmp(t->dtype, "I64") && t->ndim == 0);
            x.raw = &rw->i64_value; /* little-endian, as the format */
        }
        if (rw->perturb && !strcmp(t->name, rw->perturb)) {
            float *b = malloc(t->nbytes);
            memcpy(b, t->bytes, t->nbytes);
            b[3] += 1;
            bufs[n] = b;
            x.raw = b;
        }
        e[n++] = x;
    }
    if (rw->add) e[n++] = (ssm_st_entry){.name = rw->add, .dtype = "F32", .ndim = 1, .shape = {2}, .raw = extra};
    const char *meta[] = {"format", "pt"};
    ck_assert_int_eq(ssm_st_write(path, e, n, meta, 1), SSM_OK);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(e);
    ssm_st_free(&f);
}

/* dir/config.json with `from` replaced by `to` */
static void edit_config(const char *dir, const char *from, const char *to) {
    char p[1024];
    snprintf(p, sizeof p, "%s/config.json", dir);
    char *s = tu_slurp(p, NULL), *at = strstr(s, from);
    ck_assert_msg(at != NULL, "%s not in %s", from, s);
    size_t n = strlen(s) + strlen(to) + 1;
    char *o = malloc(n);
    snprintf(o, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    tu_spit(p, o, strlen(o));
    free(o);
    free(s);
}

/* a fresh hf (or native) export of the Mamba LM under dir/name */
static ssm_model *fresh_export(const char *dir, const char *name, ssm_export_format fmt, char *out,
                               size_t n) {
    char ck[700];
    snprintf(ck, sizeof ck, "%s/%s.h5", dir, name);
    snprintf(out, n, "%s/%s", dir, name);
    ssm_model *m = tu_saved_model(cfg_mamba_lm, ck);
    export_to(ck, out, fmt);
    return m;
}

/* example.py's S4Block buffer kernel.l_kernel: exported as data.seq_len (the length C~ is
 * set up for); imported: that length as is, 0 = a plain C turned into C~ as the official
 * module's first forward does, another length refused with the fix named. */
START_TEST(import_s4_l_kernel) {
    char dir[512], ck[600], src[600], st[700], imp[600];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/m.h5", dir);
    snprintf(src, sizeof src, "%s/e", dir);
    snprintf(st, sizeof st, "%s/model.safetensors", src);
    snprintf(imp, sizeof imp, "%s/imported.h5", dir);
    ssm_model *m = tu_saved_model(cfg_s4, ck);
    export_to(ck, src, SSM_EXPORT_NATIVE);
    const char *lk = "s4_layers.0.layer.kernel.l_kernel";
    ssm_st_file f;
    ck_assert_msg(ssm_st_read(st, &f) == SSM_OK, "%s", ssm_last_error());
    const ssm_st_tensor *t = ssm_st_get(&f, lk);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->dtype, "I64");
    ck_assert_int_eq(t->ndim, 0);
    int64_t v;
    memcpy(&v, t->bytes, 8);
    ck_assert_int_eq(v, 16); /* cfg_s4's data.seq_len */
    ssm_st_free(&f);
    /* another length: refused, naming the tensor and the key to set */
    ssm_import_info info;
    rewrite_st(st, &(rewrite){.i64 = lk, .i64_value = 8});
    ck_assert_int_eq(ssm_import(src, imp, NULL, 0, &info), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "tensor s4_layers.0.layer.kernel.l_kernel = 8");
    ck_assert_contains(ssm_last_error(), "data.seq_len is 16 (set it to 8)");
    ck_assert(!tu_exists(imp));
    /* 0: the file's C is the plain C; the import sets up C~ from it and the other
     * parameters (the exported C~ read as a plain C here) */
    rewrite_st(st, &(rewrite){.i64 = lk, .i64_value = 0});
    ck_assert_msg(ssm_import(src, imp, NULL, 0, &info) == SSM_OK, "%s", ssm_last_error());
    ssm_s4 *s = m->layers[0];
    double *plain = malloc(sizeof *plain * (size_t)s->C->numel);
    for (int64_t j = 0; j < s->C->numel; j++) plain[j] = ((const float *)s->C->data)[j];
    ck_assert_int_eq(ssm_s4_setup_C(s, plain), 0);
    free(plain);
    same_tensors(m, imp);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(import_half_precision) {
    char dir[512], src[700], imp[700], st[800];
    tu_tmpdir(dir, sizeof dir);
    const char *dts[] = {"F16", "BF16", "F64"};
    for (int k = 0; k < 3; k++) {
        ssm_model *m = fresh_export(dir, dts[k], SSM_EXPORT_HF, src, sizeof src);
        snprintf(st, sizeof st, "%s/model.safetensors", src);
        rewrite_st(st, &(rewrite){.dtype = dts[k]});
        snprintf(imp, sizeof imp, "%s/%s.imported.h5", dir, dts[k]);
        ssm_import_info info;
        ck_assert_msg(ssm_import(src, imp, NULL, 0, &info) == SSM_OK, "%s", ssm_last_error());
        ck_assert_int_eq(info.step, 0); /* the rewrite dropped ssmtrain's metadata */
        ssm_ckpt_contents c;
        ck_assert_int_eq(ssm_ckpt_read_contents(imp, &c), SSM_OK);
        for (int i = 0; i < c.n; i++) {
            const float *got = c.values[i]->data, *want = m->ps->p[i]->data;
            for (int64_t j = 0; j < c.values[i]->numel; j++) {
                float w = k == 0 ? ssm_f16_to_f32(ssm_f32_to_f16(want[j]))
                          : k == 1 ? ssm_bf16_to_f32(ssm_f32_to_bf16(want[j])) : want[j];
                ck_assert_msg(memcmp(&got[j], &w, 4) == 0, "%s %s[%lld]: %g, expected %g",
                              dts[k], c.names[i], (long long)j, got[j], w);
            }
        }
        ssm_ckpt_contents_free(&c);
        ssm_model_free(m);
    }
    tu_rm_tree(dir);
}
END_TEST

/* the hf export split in two shards with an index, as save_pretrained shards */
START_TEST(import_sharded) {
    char dir[512], src[700], st[800], sh[2][800], idx[800], imp[800];
    tu_tmpdir(dir, sizeof dir);
    ssm_model *m = fresh_export(dir, "hf", SSM_EXPORT_HF, src, sizeof src);
    snprintf(st, sizeof st, "%s/model.safetensors", src);
    ssm_st_file f;
    ck_assert_int_eq(ssm_st_read(st, &f), SSM_OK);
    char *map = calloc(1, 1 << 16);
    strcat(map, "{\"metadata\":{\"total_size\":0},\"weight_map\":{");
    for (int s = 0; s < 2; s++) {
        snprintf(sh[s], sizeof sh[s], "%s/model-%05d-of-00002.safetensors", src, s + 1);
        ssm_st_entry e[64];
        int n = 0;
        for (int i = s; i < f.n; i += 2) {
            e[n] = (ssm_st_entry){.name = f.t[i].name, .dtype = f.t[i].dtype, .ndim = f.t[i].ndim,
                                  .raw = f.t[i].bytes};
            memcpy(e[n].shape, f.t[i].shape, sizeof e[n].shape);
            n++;
            sprintf(map + strlen(map), "%s\"%s\":\"model-%05d-of-00002.safetensors\"",
                    strlen(map) > 50 ? "," : "", f.t[i].name, s + 1);
        }
        ck_assert_int_eq(ssm_st_write(sh[s], e, n, NULL, 0), SSM_OK);
    }
    strcat(map, "}}");
    ssm_st_free(&f);
    remove(st);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", src);
    tu_spit(idx, map, strlen(map));
    snprintf(imp, sizeof imp, "%s/sharded.h5", dir);
    ssm_import_info info;
    ck_assert_msg(ssm_import(src, imp, NULL, 0, &info) == SSM_OK, "%s", ssm_last_error());
    ck_assert_int_eq(info.n_files, 2);
    ck_assert_int_eq(info.n_tensors, m->ps->n + 1);
    same_tensors(m, imp);
    /* the index file itself as SRC */
    ck_assert_msg(ssm_import(idx, imp, NULL, 0, &info) == SSM_OK, "%s", ssm_last_error());
    /* an index that puts a tensor in the wrong shard */
    char *at = strstr(map, "\"backbone.norm_f.weight\":\"model-0000");
    ck_assert_ptr_nonnull(at);
    at += strlen("\"backbone.norm_f.weight\":\"model-0000");
    *at = *at == '1' ? '2' : '1';
    tu_spit(idx, map, strlen(map));
    ck_assert_int_eq(ssm_import(src, imp, NULL, 0, &info), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "weight_map puts tensor backbone.norm_f.weight in");
    free(map);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

START_TEST(import_errors) {
    char dir[512], src[700], st[800], imp[800];
    tu_tmpdir(dir, sizeof dir);
    snprintf(imp, sizeof imp, "%s/out.h5", dir);
    ssm_import_info info;
    struct {
        ssm_export_format fmt;
        rewrite rw;
        const char *from, *to; /* config.json edit */
        const char *msg[3];
    } cases[] = {
        {SSM_EXPORT_HF, {.drop = "backbone.layers.1.mixer.D"}, NULL, NULL,
         {"model.safetensors", "missing tensor backbone.layers.1.mixer.D", NULL}},
        {SSM_EXPORT_HF, {.add = "backbone.layers.0.mixer.in_proj.bias"}, NULL, NULL,
         {"model.safetensors", "unexpected tensor backbone.layers.0.mixer.in_proj.bias", "transformers"}},
        {SSM_EXPORT_HF, {.reshape = "backbone.layers.0.mixer.A_log"}, NULL, NULL,
         {"model.safetensors", "tensor backbone.layers.0.mixer.A_log has shape [64]", "needs [16, 4]"}},
        {SSM_EXPORT_HF, {.perturb = "lm_head.weight"}, NULL, NULL,
         {"model.safetensors", "tensor lm_head.weight differs from the embedding", NULL}},
        {SSM_EXPORT_HF, {0}, "\"state_size\":4", "\"state_size\":8",
         {"model.safetensors", "tensor backbone.layers.0.mixer.x_proj.weight has shape [9, 16]",
          "needs [17, 16]"}},
        {SSM_EXPORT_HF, {0}, "\"hidden_size\":8,", "",
         {"config.json", "missing field hidden_size", NULL}},
        {SSM_EXPORT_HF, {0}, "\"hidden_size\":8", "\"hidden_size\":\"8\"",
         {"config.json", "field hidden_size must be an integer, not a string", NULL}},
        {SSM_EXPORT_HF, {0}, "\"use_conv_bias\":true", "\"use_conv_bias\":false",
         {"config.json", "use_conv_bias = false is not supported", NULL}},
        {SSM_EXPORT_HF, {0}, "\"use_bias\":false", "\"use_bias\":true",
         {"config.json", "use_bias = true is not supported", NULL}},
        {SSM_EXPORT_HF, {0}, "\"layer_norm_epsilon\":1e-05", "\"layer_norm_epsilon\":1e-06",
         {"config.json", "layer_norm_epsilon", "not supported"}},
        {SSM_EXPORT_HF, {0}, "\"vocab_size\":16", "\"vocab_size\":12",
         {"config.json", "12 embedding rows is not supported", NULL}},
        {SSM_EXPORT_HF, {0}, "\"model_type\":\"mamba\"", "\"model_type\":\"mamba2\"",
         {"config.json", "model_type \"mamba2\" is not supported", NULL}},
        {SSM_EXPORT_NATIVE, {0}, "\"rms_norm\":true", "\"rms_norm\":false",
         {"config.json", "rms_norm = false is not supported", "RMSNorm"}},
        {SSM_EXPORT_NATIVE, {0}, "\"layer\":\"Mamba1\"", "\"layer\":\"Mamba2\"",
         {"config.json", "ssm_cfg.layer other than \"Mamba1\"", NULL}},
        {SSM_EXPORT_NATIVE, {0}, "\"d_state\":4", "\"d_state\":4.5",
         {"config.json", "field ssm_cfg.d_state must be a non-negative integer, not 4.5", NULL}},
        {SSM_EXPORT_NATIVE, {0}, "\"attn_layer_idx\":[]", "\"attn_layer_idx\":[1]",
         {"config.json", "attn_layer_idx (attention layers) is not supported", NULL}},
        {SSM_EXPORT_NATIVE, {0}, "\"n_layer\":2", "\"n_layer\":3",
         {"model.safetensors", "missing tensor backbone.layers.2.", NULL}},
        {SSM_EXPORT_NATIVE, {0}, "\"n_layer\":2", "\"n_layers\":2",
         {"config.json", "unknown layout", NULL}},
        {SSM_EXPORT_NATIVE, {0}, "{", "[",
         {"config.json", "not valid JSON", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "case%zu", i);
        ssm_model *m = fresh_export(dir, name, cases[i].fmt, src, sizeof src);
        snprintf(st, sizeof st, "%s/model.safetensors", src);
        rewrite_st(st, &cases[i].rw);
        if (cases[i].from) edit_config(src, cases[i].from, cases[i].to);
        ck_assert_msg(ssm_import(src, imp, NULL, 0, &info) == SSM_ERR, "case %zu imported", i);
        for (int k = 0; k < 3 && cases[i].msg[k]; k++) ck_assert_contains(ssm_last_error(), cases[i].msg[k]);
        ck_assert(!tu_exists(imp));
        ssm_model_free(m);
    }
    /* no config.json; nothing at all */
    snprintf(st, sizeof st, "%s/config.json", src);
    remove(st);
    ck_assert_int_eq(ssm_import(src, imp, NULL, 0, &info), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "config.json: missing");
    ck_assert_int_eq(ssm_import("/nonexistent/x", imp, NULL, 0, &info), SSM_ERR);
    ck_assert_contains(ssm_last_error(), "/nonexistent/x: no such file or folder");
    tu_rm_tree(dir);
}
END_TEST

/* The tools: ssmexport --import writes a checkpoint that ssmtrain evaluates to the same
 * numbers as the original and resumes from; ssminfo describes both files. */
START_TEST(tools_on_imported_checkpoint) {
    char dir[512], ck[600], hf[600], imp[600], ini[600], setp[700], out[800];
    tu_tmpdir(dir, sizeof dir);
    snprintf(ck, sizeof ck, "%s/lm.h5", dir);
    snprintf(hf, sizeof hf, "%s/hf", dir);
    snprintf(imp, sizeof imp, "%s/imported.h5", dir);
    snprintf(ini, sizeof ini, "%s/lm.ini", dir);
    snprintf(setp, sizeof setp, "data.path=%s", tu_data("lm_bytes"));
    char text[1024];
    snprintf(text, sizeof text,
             "[model]\ntask = lm\nlayer = mamba\nd_model = 8\nn_layers = 2\npooling = none\nd_input = 256\n"
             "[layer]\nd_state = 4\n[data]\ntask = lm_bytes\npath = %s\nseq_len = 32\n"
             "[train]\nbatch_size = 4\nmax_steps = 44\neval_every = 1\n[checkpoint]\nmetric = val_loss\n",
             tu_data("lm_bytes"));
    tu_spit(ini, text, strlen(text));
    ssm_config cfg;
    ck_assert_int_eq(ssm_config_load(&cfg, ini, NULL, 0), SSM_OK);
    char *resolved = ssm_config_to_ini(&cfg);
    ssm_model *m = tu_saved_model(resolved, ck);
    free(resolved);
    export_to(ck, hf, SSM_EXPORT_HF);
    char *o, *o2;
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, "--import", hf, imp, "--set", setp, "--set",
                                 "data.seq_len=32", NULL), 0);
    ck_assert_contains(o, "transformers layout, 23 tensor(s) in 1 file(s)");
    char want[256];
    const ssm_tensor *emb = ssm_params_find(m->ps, "backbone.embedding.weight");
    snprintf(want, sizeof want, "mamba model, %lld parameters, step 42", (long long)m->ps->numel);
    ck_assert_contains(o, want);
    free(o);
    /* the same evaluation numbers as the original checkpoint */
    ck_assert_int_eq(tu_run_tool("ssmtrain", dir, &o, "--eval-only", imp, NULL), 0);
    ck_assert_int_eq(tu_run_tool("ssmtrain", dir, &o2, "--eval-only", ck, NULL), 0);
    const char *a = strstr(o, "val_loss="), *b = strstr(o2, "val_loss=");
    ck_assert_msg(a && b && !strcmp(a, b), "%s\n%s", o, o2);
    free(o);
    free(o2);
    /* resume: two more steps, moments from zero */

    snprintf(out, sizeof out, "%s/run", dir);
    ck_assert_int_eq(tu_run_tool("ssmtrain", dir, &o, ini, "--out", out, "--resume", imp, NULL), 0);
    ck_assert_contains(o, "resuming from step 42");
    ck_assert_contains(o, "step 44/44");
    free(o);
    /* ssminfo: the checkpoint */
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, imp, NULL), 0);
    ck_assert_contains(o, "Mamba language model (mamba_ssm MambaLMHeadModel): d_model 8, n_layers 2, "
                          "vocabulary 256 (embedding rows), d_state 4, expand 2, d_conv 4, dt_rank 1");
    snprintf(want, sizeof want, "step: 42\nparameters: %lld in 22 tensors\n", (long long)m->ps->numel);
    ck_assert_contains(o, want);
    ck_assert_contains(o, "optimizer moments: absent");
    ck_assert_contains(o, "  backbone.layers.1.mixer.x_proj.weight        [9, 16]              F32\n");
    ck_assert_contains(o, "checksums: 22 datasets and the root attributes verified");
    free(o);
    /* a resumed checkpoint has moments: each verified */
    snprintf(out, sizeof out, "%s/run/ckpt/last.h5", dir);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, out, NULL), 0);
    ck_assert_contains(o, "optimizer moments: present");
    ck_assert_contains(o, "checksums: 66 datasets");
    free(o);
    /* ssminfo: the safetensors file */
    snprintf(out, sizeof out, "%s/model.safetensors", hf);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, out, NULL), 0);
    ck_assert_contains(o, "metadata: step = 42\nlayout: transformers (config.json)");
    snprintf(want, sizeof want, "parameters: %lld values in 23 tensors",
             (long long)(m->ps->numel + emb->numel));
    ck_assert_contains(o, want);
    ck_assert_contains(o, "  lm_head.weight                               [256, 8]             F32\n");
    free(o);
    /* errors: a corrupted value, a malformed file, usage */
    size_t n;
    char *bytes = tu_slurp(imp, &n);
    ssm_tensor *A = ssm_params_find(m->ps, "backbone.layers.0.mixer.A_log");
    char *at = memmem(bytes, n, A->data, (size_t)A->numel * 4);
    ck_assert_ptr_nonnull(at);
    at[2] ^= 1;
    snprintf(out, sizeof out, "%s/bad.h5", dir);
    tu_spit(out, bytes, n);
    free(bytes);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, out, NULL), 1);
    ck_assert_contains(o, "bad.h5: checksum mismatch"); /* the whole file's CRC-32 first */
    free(o);
    ck_assert_msg(ssm_ckpt_seal(out) == SSM_OK, "%s", ssm_last_error()); /* then the dataset's */
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, out, NULL), 1);
    ck_assert_contains(o, "bad.h5: /params/backbone.layers.0.mixer.A_log is corrupted");
    free(o);
    tu_spit(out, "12345678{}", 10);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, out, NULL), 1);
    ck_assert_contains(o, "bad.h5: bad header length");
    free(o);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, NULL), 2);
    ck_assert_contains(o, "need a FILE");
    free(o);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, imp, imp, NULL), 2);
    free(o);
    ck_assert_int_eq(tu_run_tool("ssminfo", dir, &o, "--help", NULL), 0);
    ck_assert_contains(o, "Exit status: 0");
    free(o);
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, "--import", hf, NULL), 2);
    ck_assert_contains(o, "--import needs SRC and one OUT.h5");
    free(o);
    ck_assert_int_eq(tu_run_tool("ssmexport", dir, &o, "--import", dir, imp, NULL), 1);
    ck_assert_contains(o, "holds neither model.safetensors nor model.safetensors.index.json");
    free(o);
    ssm_model_free(m);
    tu_rm_tree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("import");
    TCase *t = tcase_create("import");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, half_conversions);
    tcase_add_test(t, safetensors_malformed);
    tcase_add_test(t, round_trip_mamba_native);
    tcase_add_test(t, round_trip_mamba_hf);
    tcase_add_test(t, round_trip_s4d_batchnorm);
    tcase_add_test(t, round_trip_s4);
    tcase_add_test(t, round_trip_s5);
    tcase_add_test(t, import_s4_l_kernel);
    tcase_add_test(t, import_half_precision);
    tcase_add_test(t, import_sharded);
    tcase_add_test(t, import_errors);
    tcase_add_test(t, tools_on_imported_checkpoint);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}

/* The fuzz targets' entry points, shared by the libFuzzer programs (tests/fuzz/fuzz_*.c)
 * and the regression suite (tests/test_fuzz_regressions.c). Each takes one input as bytes,
 * turns it into the files the tools read and calls the tools' own reader, returning
 * SSM_OK or SSM_ERR. Inputs of several files are split at FZ_SEP. */
#ifndef SSM_FUZZ_ENTRIES_H
#define SSM_FUZZ_ENTRIES_H
#include <stddef.h>
#include <stdint.h>

#define FZ_SEP "\n----8<----\n"

typedef int (*fz_entry)(const uint8_t *data, size_t n);
typedef struct {
    const char *name; /* fuzz_<name>, tests/fuzz/regressions/<name>/ */
    fz_entry run;
} fz_target;

extern const fz_target fz_targets[];
extern const int fz_n_targets;
const fz_target *fz_find(const char *name);

#endif

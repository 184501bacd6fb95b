/* Every input under tests/fuzz/regressions/<target>/ (inputs that crashed a reader once,
 * and hand-made malformed ones) fed to the fuzz target's entry point in the normal
 * build: no crash, and SSM_ERR (a file named ok-* must load: SSM_OK). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz/entries.h"
#include "log.h"
#include "testutil.h"

START_TEST(replay) {
    const fz_target *t = &fz_targets[_i];
    char dir[600];
    snprintf(dir, sizeof dir, "%s/regressions/%s", SSM_FUZZ_DIR, t->name);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "no folder %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[900];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *data = tu_slurp(path, &len);
        ck_assert_msg(data != NULL, "cannot read %s", path);
        int want = strncmp(e->d_name, "ok-", 3) ? SSM_ERR : SSM_OK;
        int rc = t->run((const uint8_t *)data, len);
        ck_assert_msg(rc == want, "%s: %s, want %s (%s)", path, rc == SSM_OK ? "SSM_OK" : "SSM_ERR",
                      want == SSM_OK ? "SSM_OK" : "SSM_ERR", ssm_last_error());
        if (rc == SSM_ERR) ck_assert_msg(ssm_last_error()[0], "%s: an error without a message", path);
        free(data);
        n++;
    }
    closedir(d);
    ck_assert_msg(n > 0, "%s holds no inputs", dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("fuzz_regressions");
    TCase *t = tcase_create("replay");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, replay, 0, fz_n_targets);
    suite_add_tcase(s, t);
    return tu_run(s, 1);
}

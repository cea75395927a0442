/* fuzz_config.c - libFuzzer harness for the one INI reader (common/fl_ini.c)
 * under both programs: the input's first byte picks the loadgen scenario
 * (even) or the server's --config file (odd); the rest is the file. A scenario that loads is
 * printed and read back, and must give the same text again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes as a file the readers can open by path (no disk involved). */
static int as_file(const void *p, size_t n, char *path, size_t len)
{
    int fd = memfd_create("fuzz_config", 0);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

static char *print_scenario(const struct fl_scenario *s, size_t *n)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, n);
    if (!f)
        abort();
    fl_scenario_print(f, s);
    fclose(f);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char path[64], err[512];
    int fd = as_file(data + 1, size - 1, path, sizeof(path));
    if (data[0] & 1) {
        static struct fl_server_config cfg;
        char *argv[] = {"fuzz_config", "--config", path, NULL};
        fl_config_load(3, argv, &cfg, err, sizeof(err));
        close(fd);
        return 0;
    }
    struct fl_scenario s;
    int rc = fl_scenario_load(path, &s, err, sizeof(err));
    close(fd);
    if (rc)
        return 0;
    size_t n1, n2;
    char *t1 = print_scenario(&s, &n1);
    fl_scenario_free(&s);
    fd = as_file(t1, n1, path, sizeof(path));
    if (fl_scenario_load(path, &s, err, sizeof(err))) {
        fprintf(stderr, "fuzz_config: the printed scenario does not load again: %s\n%s\n", err, t1);
        abort();
    }
    close(fd);
    char *t2 = print_scenario(&s, &n2);
    fl_scenario_free(&s);
    if (n1 != n2 || memcmp(t1, t2, n1)) {
        fprintf(stderr, "fuzz_config: printing is not stable:\n%s\n---\n%s\n", t1, t2);
        abort();
    }
    free(t1);
    free(t2);
    return 0;
}

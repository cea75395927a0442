/* fromlog_cmd.c - `fraglab-loadgen scenario --from-log FILE [--format F]
 * [--out FILE.ini]`: flags.c's table, then fromlog.c reads and
 * fromlog_write.c writes. With --out the file is written beside its place
 * and renamed over it, so a failed conversion leaves no half scenario. */
#include "flags.h"
#include "fromlog.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROG "fraglab-loadgen scenario"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void report_lines(const struct fl_fromlog *c)
{
    uint64_t lines = fl_fromlog_lines(c), reqs = fl_fromlog_requests(c);
    fprintf(stderr, PROG ": %" PRIu64 " lines, %" PRIu64 " requests, %" PRIu64 " bad", lines, reqs,
            lines - reqs);
    const char *sep = " (";
    for (int k = 0; k < FL_FROMLOG_NBAD; k++) {
        if (fl_fromlog_bad(c, k)) {
            fprintf(stderr, "%s%" PRIu64 " %s", sep, fl_fromlog_bad(c, k), fl_fromlog_bad_name(k));
            sep = ", ";
        }
    }
    fprintf(stderr, "%s\n", *sep == ',' ? ")" : "");
}

static int read_log(struct fl_fromlog *c, const char *path)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = fl_fromlog_read(c, in);
    if (in != stdin)
        fclose(in);
    if (rc) {
        fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
        return -1;
    }
    return 0;
}

/* Writes the scenario to `out` (NULL: stdout). */
static int write_out(struct fl_fromlog *c, const char *src, const char *out)
{
    char tmp[PATH_MAX], why[256];
    FILE *f = stdout;
    if (out) {
        if (snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp) ||
            !(f = fopen(tmp, "w"))) {
            fprintf(stderr, PROG ": --out %s: %s\n", out, strerror(errno ? errno : ENAMETOOLONG));
            return -1;
        }
    }
    int rc = fl_fromlog_write(c, f, src, why, sizeof(why));
    bool failed = out ? fclose(f) != 0 : fflush(f) != 0;
    if (rc) {
        fprintf(stderr, PROG ": %s: %s\n", src, why);
    } else if (failed || (out && rename(tmp, out))) {
        fprintf(stderr, PROG ": %s: %s\n", out ? out : "stdout", strerror(errno));
        rc = -1;
    }
    if (rc && out)
        unlink(tmp);
    return rc ? -1 : 0;
}

int fl_lg_cmd_scenario(int argc, char **argv)
{
    struct fl_lg_scenario_opts o = {0};
    int rc = fl_lg_flags_parse(&fl_lg_scenario_command, argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : EXIT_USAGE;
    enum fl_fromlog_format fmt = FL_FROMLOG_COMBINED;
    if (!o.from_log) {
        fprintf(stderr, PROG ": --from-log FILE is required (try --help)\n");
        return EXIT_USAGE;
    }
    if (o.format && !strcmp(o.format, "json"))
        fmt = FL_FROMLOG_JSON;
    else if (o.format && strcmp(o.format, "combined")) {
        fprintf(stderr, PROG ": --format %s: expected combined or json\n", o.format);
        return EXIT_USAGE;
    }
    struct fl_fromlog *c = fl_fromlog_new(fmt);
    if (!c) {
        fprintf(stderr, PROG ": out of memory\n");
        return EXIT_FAILED;
    }
    rc = read_log(c, o.from_log);
    if (!rc && fl_fromlog_requests(c))
        report_lines(c);
    if (!rc)
        rc = write_out(c, o.from_log, o.out);
    fl_fromlog_free(c);
    return rc ? EXIT_FAILED : 0;
}

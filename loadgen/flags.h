/* flags.h - the command line of fraglab-loadgen's subcommands (run, matrix,
 * report, scenario): one option table per subcommand drives parsing, value checks and
 * --help, as FL_SERVER_OPTIONS does for the server. */
#ifndef FL_LOADGEN_FLAGS_H
#define FL_LOADGEN_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A flag's value: the text as given (forwarded as is by `matrix`) and what
 * it means once checked. */
struct fl_lg_value {
    const char *text; /* NULL: not given */
    uint64_t n;       /* a time (ns) or a count */
    double x;         /* a rate (requests/s) */
};

/* `fraglab-loadgen run`. */
struct fl_lg_run_opts {
    const char *scenario, *target, *echo_target, *path, *out;
    struct fl_lg_value duration, warmup, connections, threads, rate, max_requests, timeout,
        interval, server_pid, idle;
    bool quiet, no_sample;
};

/* `fraglab-loadgen matrix`. */
struct fl_lg_matrix_opts {
    const char *scenario, *modes, *allocators, *server, *out;
    struct fl_lg_value duration, idle, interval, connections, rate, threads;
    bool parallel, no_headroom_check;
};

/* `fraglab-loadgen report DIR`. */
struct fl_lg_report_opts {
    const char *dir, *repeats;
    bool no_plots;
};

/* `fraglab-loadgen scenario --from-log FILE`. */
struct fl_lg_scenario_opts {
    const char *from_log, *format, *out;
};

enum fl_lg_flag_kind {
    FL_LG_FLAG_SWITCH,  /* no value: sets a bool */
    FL_LG_FLAG_TEXT,    /* a string, kept as given */
    FL_LG_FLAG_TIME,    /* "30s", "500ms": ns within lo..hi */
    FL_LG_FLAG_COUNT,   /* a count within lo..hi */
    FL_LG_FLAG_RATE,    /* requests/s, a decimal in 0..1e9 */
    FL_LG_FLAG_HELP,    /* prints --help, then the caller exits 0 */
    FL_LG_FLAG_VERSION, /* prints the version, then the caller exits 0 */
};

struct fl_lg_flag {
    const char *name; /* the long flag without "--" */
    char letter;      /* the short flag, 0 for none */
    enum fl_lg_flag_kind kind;
    size_t off;       /* of the field in the subcommand's options struct */
    const char *arg;  /* what --help shows for the value: "T", "N", "FILE" */
    const char *help; /* may hold '\n' for a continuation line */
    uint64_t lo, hi;  /* range of a TIME or COUNT */
};

struct fl_lg_command {
    const char *prog;     /* "fraglab-loadgen matrix": starts every message */
    const char *synopsis; /* --help's first lines */
    const char *epilog;   /* --help's last lines */
    const struct fl_lg_flag *flags;
    size_t nflags;
    size_t pos_off; /* the field taking the one positional argument; SIZE_MAX: none */
};

extern const struct fl_lg_command fl_lg_run_command, fl_lg_matrix_command, fl_lg_report_command,
    fl_lg_scenario_command;

/* Parses argv[1..argc) (argv[0] is the subcommand) into `opts`, the
 * command's options struct, zeroed by the caller. 0; 1 after printing
 * --help or --version to stdout (exit 0); -1 after one line on stderr for an
 * unknown flag, a missing value, a bad value or an unexpected argument
 * (exit 2). */
int fl_lg_flags_parse(const struct fl_lg_command *cmd, int argc, char **argv, void *opts);

/* Writes --help: the synopsis, one line (or more) per table entry, the epilog. */
void fl_lg_flags_usage(const struct fl_lg_command *cmd, FILE *f);

#endif

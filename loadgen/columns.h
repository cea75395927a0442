/* columns.h - the columns of a run's timeseries.csv, listed once: `run`
 * writes them (report.c) and the matrix report reads them back by name
 * (matrix/matrix_report_series.c). A column added or renamed here reaches
 * both; the writer's switch over enum fl_lg_col does not build until the new
 * column has a value. The order is the CSV's and the tests pin it: a new
 * column goes at the end of its group, never between existing ones (readers,
 * ours and users' scripts, find columns by header name). */
#ifndef FL_LOADGEN_COLUMNS_H
#define FL_LOADGEN_COLUMNS_H

#include "fl_alloc.h"

/* The load generator's own figures of an interval: X(column). */
#define FL_LG_CSV_LOAD(X)                                                                          \
    X(t_s)    /* end of the interval, s from the start */                                          \
    X(phase)  /* the phase running at its end */                                                   \
    X(warmup) /* 1: it ended inside the warm-up */                                                 \
    X(requests)                                                                                    \
    X(rps)                                                                                         \
    X(errors)      /* every kind */                                                                \
    X(unavailable) /* of which the server's 503s */                                                \
    X(p50_us)                                                                                      \
    X(p90_us)                                                                                      \
    X(p99_us)                                                                                      \
    X(max_us)

/* The server's memory: the allocator layer's list, X(field, metric, help),
 * each figure the column <field>_bytes. New figures there append here. */
#define FL_LG_CSV_MEMORY(X) FL_ALLOC_STATS_FIELDS(X)

/* The server's other figures: X(column, struct fl_lg_sample field, kind);
 * kind `ratio` is a double (NaN: empty), `count` an int64 (FL_NA: empty). */
#define FL_LG_CSV_SERVER(X)                                                                        \
    X(frag_ratio, frag_ratio, ratio)                                                               \
    X(cross_thread_frees, cross_thread_frees, count)                                               \
    X(task_migrations, task_migrations, count)                                                     \
    X(server_connections, connections_open, count)                                                 \
    X(held_bytes, held_bytes, count)                                                               \
    X(server_cpu_ms, cpu_ms, count)

/* After the fixed columns, three per population of the scenario, in its
 * order: pop_<name>_<suffix>, X(suffix). */
#define FL_LG_CSV_POP(X) X(open) X(opened) X(requests)

/* Every fixed column, in CSV order: the one list. Each group has its own
 * X signature (the memory group is the allocator layer's), so the list takes
 * one X per group: FL_LG_CSV_COLUMNS(load X, memory X, server X). */
#define FL_LG_CSV_COLUMNS(L, M, S) FL_LG_CSV_LOAD(L) FL_LG_CSV_MEMORY(M) FL_LG_CSV_SERVER(S)

/* FL_LG_COL_<header name>: a column's place among the fixed ones. */
#define FL__LG_COL_L(col) FL_LG_COL_##col,
#define FL__LG_COL_M(field, metric, help) FL_LG_COL_##field##_bytes,
#define FL__LG_COL_S(col, field, kind) FL_LG_COL_##col,
enum fl_lg_col { FL_LG_CSV_COLUMNS(FL__LG_COL_L, FL__LG_COL_M, FL__LG_COL_S) FL_LG_NCOLS };
#undef FL__LG_COL_L
#undef FL__LG_COL_M
#undef FL__LG_COL_S

/* The header cell of each fixed column, FL_LG_COL_* order. */
extern const char *const fl_lg_csv_names[FL_LG_NCOLS];

/* The per-population suffixes, FL_LG_CSV_POP order. */
enum {
    FL_LG_NPOPCOLS = 0
#define FL_X(suffix) +1
    FL_LG_CSV_POP(FL_X)
#undef FL_X
};
extern const char *const fl_lg_csv_pop_suffixes[FL_LG_NPOPCOLS];

#endif

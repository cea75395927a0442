/* matrix_report.h - `fraglab-loadgen report DIR`: the table, matrix.csv,
 * matrix.json, the gnuplot pictures and index.html of a matrix folder. */
#ifndef FL_LOADGEN_MATRIX_REPORT_H
#define FL_LOADGEN_MATRIX_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* argv[0] is "report"; usage `report DIR [--no-plots]`. Returns the exit
 * status: 0 done, 1 the folder could not be read or written, 2 usage. */
int fl_lg_cmd_report(int argc, char **argv);

/* Reads DIR/runs.json and every run under it (partial runs included),
 * writes DIR/matrix.csv, DIR/matrix.json, DIR/index.html and, with `plots`,
 * DIR/plots.gp and its PNGs; prints the table to `table_out` (may be NULL).
 * 0, or -errno with one line in `err`. A missing gnuplot is a warning on
 * stderr, not a failure. */
int fl_lg_report_dir(const char *dir, bool plots, FILE *table_out, char *err, size_t errlen);

#endif

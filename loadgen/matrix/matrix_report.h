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
 * DIR/plots.gp and its PNGs; prints the table and the verdict (what to run
 * for this traffic, matrix_verdict.h) to `table_out` (may be NULL).
 * `repeats`: NULL, or a comma list of folders where the same scenario ran
 * again; the verdict takes each pairing's figures over all of them, with
 * their range. 0, or -errno with one line in `err`. A missing gnuplot is a
 * warning on stderr, not a failure. */
int fl_lg_report_dir(const char *dir, bool plots, FILE *table_out, const char *repeats, char *err,
                     size_t errlen);

/* Rewrites DIR/index.html alone from what is on disk now, for a matrix
 * under way: DIR/runs.json, or without one each DIR/runs/NAME/ holding a
 * timeseries.csv or summary.json, each read as it is (a run without
 * summary.json is partial). `running`: the page reloads itself every 5 s
 * and says it is live; false: the final page, no reload (fl_lg_report_dir
 * writes that too, with matrix.csv, matrix.json and the PNGs, which this
 * never draws; PNGs already beside the page are shown). The page is
 * written to a temporary file and renamed over index.html, so a browser
 * never reads half of one. Call it as often as you like: while `running`,
 * a call made before nine times the last write's duration has passed
 * since it ended returns 0 without writing, which keeps the page under a
 * tenth of a CPU however long the run. Prints nothing; 0, or -errno (a
 * folder that holds no run yet is -ENOENT). One caller at a time. */
int fl_mr_write_live(const char *dir, bool running);

#endif

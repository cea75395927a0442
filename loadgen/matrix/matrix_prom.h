/* matrix_prom.h - DIR/prometheus-targets.json: the matrix's live servers in
 * Prometheus's file-based service discovery format (file_sd), one target
 * group per pairing, labelled pairing, mode, allocator, free_policy and
 * scenario from DIR/runs.json. */
#ifndef FL_LOADGEN_MATRIX_PROM_H
#define FL_LOADGEN_MATRIX_PROM_H

/* Adds (or replaces) pairing `name`'s server at 127.0.0.1:port; its labels
 * come from DIR/runs.json, which must name it. 0 or -errno, after one line
 * on stderr: the run goes on unwatched. */
int fl_matrix_prom_add(const char *dir, const char *name, int port);

/* Drops pairing `name`'s target (its server stopped); 0 or -errno. */
int fl_matrix_prom_remove(const char *dir, const char *name);

#endif

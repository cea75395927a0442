/* matrix.h - `fraglab-loadgen matrix`: every mode under every allocator. */
#ifndef FL_LOADGEN_MATRIX_H
#define FL_LOADGEN_MATRIX_H

/* argv[0] is "matrix"; `default_scenario` is used without --scenario (may
 * be NULL). Returns the exit status. */
int fl_lg_cmd_matrix(int argc, char **argv, const char *default_scenario);

#endif

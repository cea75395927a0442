/* columns.c - the header names of timeseries.csv's columns (columns.h). */
#include "columns.h"

#define NAME_L(col) #col,
#define NAME_M(field, metric, help) #field "_bytes",
#define NAME_S(col, field, kind) #col,
const char *const fl_lg_csv_names[FL_LG_NCOLS] = {FL_LG_CSV_COLUMNS(NAME_L, NAME_M, NAME_S)};

const char *const fl_lg_csv_pop_suffixes[FL_LG_NPOPCOLS] = {
#define FL_X(suffix) #suffix,
    FL_LG_CSV_POP(FL_X)
#undef FL_X
};

/* matrix_report_series.c - a run's timeseries.csv as one array per column
 * that `run` writes (columns.h), found by header name (any order; absent and
 * empty cells are NAN), with each row's phase numbered; a last line still
 * being written (no newline yet) is left out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_report_internal.h"

/* Whole file, NUL-terminated; NULL with errno. */
char *fl__mr_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb)
            free(buf);
        buf = nb;
    }
    int e = ferror(f) ? EIO : ENOMEM;
    fclose(f);
    if (!buf) {
        errno = e;
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

void fl__mr_series_free(struct fl__mr_series *s)
{
    for (int c = 0; c < FL__MR_NC; c++)
        free(s->v[c]);
}

/* Splits one CSV line in place at commas (empty fields kept); the loadgen
 * never quotes. Returns the number of fields. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line;; p++) {
        if (n < max)
            f[n] = p;
        n++;
        p = strchr(p, ',');
        if (!p)
            break;
        *p = '\0';
    }
    return n < max ? n : max;
}

static double cell(char **f, int nf, int i)
{
    if (i < 0 || i >= nf || !*f[i])
        return NAN;
    char *end;
    double v = strtod(f[i], &end);
    return end == f[i] ? NAN : v;
}

#define MAX_FIELDS 128

/* Strips the line ending at `nl`; the line starts at `line`. */
static void chomp(char *line, char *nl)
{
    *nl = '\0';
    if (nl > line && nl[-1] == '\r')
        nl[-1] = '\0';
}

/* The number of `name` among the run's phases, in order seen. */
static double phase_id(struct fl__mr_series *s, const char *name)
{
    for (int k = 0; k < s->nphases; k++)
        if (!strncmp(s->phases[k], name, sizeof(s->phases[k]) - 1))
            return k;
    if (s->nphases == FL__MR_MAX_PHASES)
        return FL__MR_MAX_PHASES - 1;
    snprintf(s->phases[s->nphases], sizeof(s->phases[0]), "%s", name);
    return s->nphases++;
}

static int add_row(struct fl__mr_series *s, size_t *cap, char **f, int nf)
{
    if (s->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        for (int c = 0; c < FL__MR_NC; c++) {
            double *nv = realloc(s->v[c], *cap * sizeof(double));
            if (!nv)
                return -ENOMEM;
            s->v[c] = nv;
        }
    }
    for (int c = 0; c < FL__MR_NC; c++)
        s->v[c][s->n] = cell(f, nf, s->col[c] - 1);
    int p = s->col[FL_LG_COL_phase] - 1;
    const char *phase = p >= 0 && p < nf ? f[p] : "";
    s->v[FL_LG_COL_phase][s->n] = NAN;
    s->v[FL__MR_C_IDLE][s->n] = !strcmp(phase, "idle-tail");
    s->v[FL__MR_C_PHASE_ID][s->n] = phase_id(s, phase);
    s->n++;
    return 0;
}

/* Reads timeseries.csv. A last line without its newline is being written:
 * it is left out. Fills the run's 1-based columns that gnuplot needs. */
int fl__mr_read_series(const char *path, struct fl__mr_series *s, struct fl__mr_run *run)
{
    char *text = fl__mr_slurp(path);
    if (!text)
        return -errno;
    char *f[MAX_FIELDS];
    size_t cap = 0;
    char *line = text, *nl = strchr(line, '\n');
    if (!nl) {
        free(text);
        return -ENODATA;
    }
    chomp(line, nl);
    int nf = split(line, f, MAX_FIELDS), rc = 0;
    for (int c = 0; c < FL_LG_NCOLS; c++)
        for (int k = 0; k < nf; k++)
            if (!strcmp(f[k], fl_lg_csv_names[c]))
                s->col[c] = k + 1;
    run->col_t = s->col[FL_LG_COL_t_s];
    run->col_rss = s->col[FL_LG_COL_rss_bytes];
    run->col_alloc = s->col[FL_LG_COL_allocated_bytes];
    run->col_res = s->col[FL_LG_COL_resident_bytes];
    for (line = nl + 1; rc == 0 && (nl = strchr(line, '\n')); line = nl + 1) {
        chomp(line, nl);
        if (*line)
            rc = add_row(s, &cap, f, split(line, f, MAX_FIELDS));
    }
    free(text);
    return rc;
}

/* scenario_internal.h - shared by the files of the scenario loader, not
 * part of its API: the sections and their key tables (scenario_keys.c),
 * the loader's state (scenario.c) and the checks (scenario_check.c). */
#ifndef FL_LOADGEN_SCENARIO_INTERNAL_H
#define FL_LOADGEN_SCENARIO_INTERNAL_H

#include "scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FL__FMT(a, b) __attribute__((format(printf, a, b)))

enum fl__sec {
    FL__SEC_NONE,
    FL__SEC_SCENARIO,
    FL__SEC_PHASE,
    FL__SEC_POPULATION,
    FL__SEC_REQUEST,
    FL__NSEC
};

#define FL__ALL 0xfu        /* every request kind, as a mask of 1 << kind */
#define FL__PHASE_ACTIVE 1u /* [phase]: the "kinds" of a phase, to print only its keys */
#define FL__PHASE_IDLE 2u
#define FL__MAX_KEYS 16

struct fl__key {
    const char *name;
    int type; /* how the value parses and prints: enum ktype of scenario_keys.c */
    size_t off;
    unsigned kinds;    /* [request]: the kinds the key applies to; [phase]: active, idle */
    unsigned required; /* [request]: the kinds needing it; elsewhere FL__ALL or 0 */
};

struct fl__section {
    const char *word; /* "phase" in [phase NAME] */
    const struct fl__key *keys;
    size_t nkeys;
};

extern const struct fl__section fl__scenario_sections[FL__NSEC];
extern const char *const fl__scenario_kinds[FL_SCENARIO_NKINDS];

struct fl__loader {
    struct fl_scenario *s;
    const char *path;
    char *err;
    size_t errlen;
    int lineno;
    int fail_line;    /* 0, or the line that set err */
    int rc;           /* -errno once failed */
    enum fl__sec sec; /* the section being read, its struct and header line */
    void *cur;
    int sec_line;
    int line[FL__MAX_KEYS];      /* the line of each key of the section, 0 = absent */
    int scen_line[FL__MAX_KEYS]; /* the same for [scenario], kept to the end */
    int scen_sec_line, pop_line, req_line;
    uint64_t phases_total;
    size_t cap[FL__NSEC];
};

/* Index of key `name` in section `sec` ('-' may stand for '_'), or -1. */
int fl__scenario_key_index(enum fl__sec sec, const char *name);

/* Parses `v` into the field of `base` that `k` names: NULL, or why not. */
const char *fl__scenario_parse_key(const struct fl__key *k, const char *v, void *base, char *why,
                                   size_t whylen);

/* Whether `v` is a name: 1-63 of letters, digits, '_', '.', '-'. */
bool fl__scenario_valid_name(const char *v);

/* Sets err to "FILE:LINE: what" once (later calls keep the first); returns 0. */
FL__FMT(3, 4) int fl__scenario_fail(struct fl__loader *ld, int line, const char *fmt, ...);

/* The line of key `name` in the section being read, 0 if absent. */
int fl__scenario_line_of(const struct fl__loader *ld, const char *name);

/* The name of the section being read, "" for [scenario]. */
const char *fl__scenario_cur_name(const struct fl__loader *ld);

/* Appends a zeroed element to `arr` (n used, at most max, elements of
 * `size` bytes): the array, perhaps moved, or NULL with the error set. */
void *fl__scenario_append(struct fl__loader *ld, void *arr, size_t *n, enum fl__sec sec, size_t max,
                          size_t size);

/* Checks the section being read, which has ended, and closes it. */
bool fl__scenario_finish_section(struct fl__loader *ld);

/* Checks the whole file once read: phases, warm-up, shares and weights. */
bool fl__scenario_finish_file(struct fl__loader *ld);

/* scenario_dist.c: `why` from fmt (when whylen), then -EINVAL: how a
 * distribution's parser fails. */
__attribute__((format(printf, 3, 4))) int fl__dist_bad(char *why, size_t whylen, const char *fmt,
                                                       ...);

/* scenario_hist.c: the "hist:" form of a distribution. */

/* Parses `s`, what follows "hist:", into `d` (modifies `s`). 0, or -EINVAL with why. */
int fl__dist_hist_parse(struct fl_dist *d, enum fl_dist_unit unit, char *s, char *why,
                        size_t whylen);

/* Writes a hist `d` as fl__dist_hist_parse reads it, "hist:" included. */
void fl__dist_hist_format(const struct fl_dist *d, char *buf, size_t len);

/* Whether `d` is a hist that drifts to another. */
bool fl__dist_hist_drifts(const struct fl_dist *d);

/* Draws from a hist `d` at progress `p` (0..1) from `r`, the one word the
 * caller drew. */
uint64_t fl__dist_hist_sample(const struct fl_dist *d, uint64_t r, double p);

#endif

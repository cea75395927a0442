/* scenario.c - reads a scenario file (format: config/quick.ini, README)
 * through the one INI reader (common/fl_ini.h), which hands over every section
 * header (so a section without keys, or a second one of a name, is seen)
 * and every key with its line.
 *
 * How values parse: scenario_keys.c; what is checked once a section or the
 * file ends: scenario_check.c. [scenario] must come first, so that phases
 * can be checked against it as they end. */
#include "scenario_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fl_ini.h"

int fl__scenario_fail(struct fl__loader *ld, int line, const char *fmt, ...)
{
    if (ld->fail_line)
        return 0;
    ld->fail_line = line > 0 ? line : 1;
    ld->rc = -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    fl_ini_verror(ld->err, ld->errlen, ld->path, ld->fail_line, fmt, ap);
    va_end(ap);
    return 0;
}

int fl__scenario_line_of(const struct fl__loader *ld, const char *name)
{
    return ld->line[fl__scenario_key_index(ld->sec, name)];
}

const char *fl__scenario_cur_name(const struct fl__loader *ld)
{
    return ld->sec == FL__SEC_SCENARIO ? "" : (const char *)ld->cur; /* name is the first field */
}

void *fl__scenario_append(struct fl__loader *ld, void *arr, size_t *n, enum fl__sec sec, size_t max,
                          size_t size)
{
    if (*n >= max) {
        fl__scenario_fail(ld, ld->lineno, "more than %zu [%s] sections", max,
                          fl__scenario_sections[sec].word);
        return NULL;
    }
    if (*n == ld->cap[sec]) {
        size_t nc = ld->cap[sec] ? ld->cap[sec] * 2 : 4;
        nc = nc < max ? nc : max;
        void *p = realloc(arr, nc * size);
        if (!p) {
            fl__scenario_fail(ld, ld->lineno, "out of memory");
            ld->rc = -ENOMEM;
            return NULL;
        }
        ld->cap[sec] = nc;
        arr = p;
    }
    memset((char *)arr + *n * size, 0, size);
    (*n)++;
    return arr;
}

static bool name_taken(const void *arr, size_t n, size_t size, const char *name)
{
    for (size_t i = 0; i < n; i++) /* every element struct starts with its name */
        if (strcmp((const char *)arr + i * size, name) == 0)
            return true;
    return false;
}

/* Starts a [phase], [population] or [request] section named `name`. */
static bool open_named(struct fl__loader *ld, enum fl__sec sec, const char *name)
{
    struct fl_scenario *s = ld->s;
    void *p = NULL;
    bool taken = false;
    switch (sec) {
    case FL__SEC_PHASE:
        taken = name_taken(s->phases, s->nphases, sizeof(*s->phases), name);
        p = taken ? NULL
                  : fl__scenario_append(ld, s->phases, &s->nphases, sec, FL_SCENARIO_MAX_PHASES,
                                        sizeof(*s->phases));
        if (p) {
            s->phases = p;
            ld->cur = &s->phases[s->nphases - 1];
            s->phases[s->nphases - 1].rate = s->rate; /* [scenario] came first */
            s->phases[s->nphases - 1].connections = s->connections;
        }
        break;
    case FL__SEC_POPULATION:
        taken = name_taken(s->populations, s->npopulations, sizeof(*s->populations), name);
        p = taken ? NULL
                  : fl__scenario_append(ld, s->populations, &s->npopulations, sec,
                                        FL_SCENARIO_MAX_POPULATIONS, sizeof(*s->populations));
        if (p) {
            s->populations = p;
            ld->cur = &s->populations[s->npopulations - 1];
        }
        ld->pop_line = ld->pop_line ? ld->pop_line : ld->lineno;
        break;
    default:
        taken = name_taken(s->requests, s->nrequests, sizeof(*s->requests), name);
        p = taken ? NULL
                  : fl__scenario_append(ld, s->requests, &s->nrequests, sec,
                                        FL_SCENARIO_MAX_REQUESTS, sizeof(*s->requests));
        if (p) {
            s->requests = p;
            ld->cur = &s->requests[s->nrequests - 1];
        }
        ld->req_line = ld->req_line ? ld->req_line : ld->lineno;
        break;
    }
    if (taken)
        return fl__scenario_fail(ld, ld->lineno, "second [%s %s] section",
                                 fl__scenario_sections[sec].word, name);
    if (p)
        strcpy(ld->cur, name); /* name is the first field; valid_name bounds it */
    return p != NULL;
}

/* --- the file ------------------------------------------------------------ */

/* `text` is what "[...]" holds, trimmed: ends the previous section,
 * starts this one. */
static bool begin_section(struct fl__loader *ld, const char *text)
{
    if (ld->sec != FL__SEC_NONE && !fl__scenario_finish_section(ld))
        return false;
    char line[FL_INI_LINE_MAX + 1];
    snprintf(line, sizeof(line), "%s", text);
    char *word = line;
    size_t wl = strcspn(word, " \t");
    char *name = fl_ini_trim(word + wl + (word[wl] != '\0'));
    word[wl] = '\0';
    enum fl__sec sec = FL__SEC_NONE;
    for (int i = FL__SEC_SCENARIO; i < FL__NSEC; i++)
        if (strcmp(word, fl__scenario_sections[i].word) == 0)
            sec = (enum fl__sec)i;
    if (sec == FL__SEC_NONE)
        return fl__scenario_fail(ld, ld->lineno,
                                 "unknown section '[%s%s%s]' (expected [scenario], [phase NAME], "
                                 "[population NAME] or [request NAME])",
                                 word, *name ? " " : "", name);
    if (sec == FL__SEC_SCENARIO && ld->scen_sec_line)
        return fl__scenario_fail(ld, ld->lineno,
                                 "second [scenario] section (the first is on line %d)",
                                 ld->scen_sec_line);
    if (sec == FL__SEC_SCENARIO && *name)
        return fl__scenario_fail(ld, ld->lineno, "[scenario] takes no name");
    if (sec != FL__SEC_SCENARIO && !ld->scen_sec_line)
        return fl__scenario_fail(ld, ld->lineno, "[scenario] must be the first section");
    if (sec != FL__SEC_SCENARIO && !fl__scenario_valid_name(name))
        return fl__scenario_fail(ld, ld->lineno,
                                 "[%s %s]: expected [%s NAME], NAME of letters, digits, "
                                 "'_', '.', '-'",
                                 word, name, word);
    ld->sec = sec;
    ld->sec_line = ld->lineno;
    if (sec == FL__SEC_SCENARIO) {
        ld->cur = ld->s;
        ld->scen_sec_line = ld->lineno;
        return true;
    }
    return open_named(ld, sec, name);
}

static int section_cb(void *user, const char *name, int line)
{
    struct fl__loader *ld = user;
    ld->lineno = line;
    begin_section(ld, name);
    return ld->rc;
}

/* Why key `name` cannot be set here, into `why`; NULL if it can. */
static const char *key_refused(struct fl__loader *ld, const char *name, int i, char *why,
                               size_t len)
{
    const struct fl__section *sc = &fl__scenario_sections[ld->sec];
    if (ld->sec == FL__SEC_NONE)
        snprintf(why, len, "%s: outside a section (the file starts with [scenario])", name);
    else if (i < 0)
        snprintf(why, len, "unknown key '%s' in [%s%s%s]", name, sc->word,
                 *fl__scenario_cur_name(ld) ? " " : "", fl__scenario_cur_name(ld));
    else if (ld->line[i])
        snprintf(why, len, "%s: given twice (first on line %d)", name, ld->line[i]);
    else
        return NULL;
    return why;
}

static int key_cb(void *user, const char *name, const char *value, int line)
{
    struct fl__loader *ld = user;
    ld->lineno = line;
    int i = ld->sec == FL__SEC_NONE ? -1 : fl__scenario_key_index(ld->sec, name);
    char why[FL_INI_LINE_MAX + 64];
    const char *bad = key_refused(ld, name, i, why, sizeof(why));
    if (bad) {
        fl__scenario_fail(ld, line, "%s", bad);
        return ld->rc;
    }
    ld->line[i] = line;
    bad = fl__scenario_parse_key(&fl__scenario_sections[ld->sec].keys[i], value, ld->cur, why,
                                 sizeof(why));
    if (bad)
        fl__scenario_fail(ld, line, "%s '%s': %s", name, value, bad);
    return ld->rc;
}

/* The defaults, and the file's base name (without .ini) as its name. */
static void set_defaults(struct fl_scenario *s, const char *path)
{
    *s = (struct fl_scenario){.seed = 1,
                              .threads = 1,
                              .timeout = UINT64_C(10000000000),
                              .interval = UINT64_C(1000000000)};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strcspn(base, ".");
    n = n < sizeof(s->name) - 1 ? n : sizeof(s->name) - 1;
    for (size_t i = 0; i < n; i++)
        s->name[i] = fl__scenario_valid_name((char[]){base[i], '\0'}) ? base[i] : '_';
    if (!n)
        strcpy(s->name, "scenario");
}

int fl_scenario_load(const char *path, struct fl_scenario *s, char *err, size_t errlen)
{
    struct fl__loader ld = {.s = s, .path = path, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    set_defaults(s, path);
    static const struct fl_ini_handlers h = {.section_cb = section_cb, .key_cb = key_cb};
    int rc = fl_ini_parse(path, &h, &ld, err, errlen);
    if (rc == 0)
        fl__scenario_finish_file(&ld);
    else if (!ld.rc) /* the reader's own error: a bad line, or the file unreadable */
        ld.rc = rc;
    if (ld.rc)
        fl_scenario_free(s);
    return ld.rc;
}

void fl_scenario_free(struct fl_scenario *s)
{
    free(s->phases);
    free(s->populations);
    free(s->requests);
    s->phases = NULL;
    s->populations = NULL;
    s->requests = NULL;
    s->nphases = s->npopulations = s->nrequests = 0;
}

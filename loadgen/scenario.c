/* scenario.c - reads a scenario file (format: config/quick.ini, README).
 *
 * inih splits lines into key = value pairs, but three things it does are
 * wrong here, so its reader is wrapped: Debian's build does not tell the
 * handler the line number; it does not report a section without keys, and
 * merges two sections of the same name; and an indented line continues the
 * previous value. The reader counts lines, parses section headers itself
 * (handing inih an empty line instead), and drops leading blanks.
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

#include <ini.h>

int fl__scenario_fail(struct fl__loader *ld, int line, const char *fmt, ...)
{
    if (ld->fail_line)
        return 0;
    ld->fail_line = line > 0 ? line : 1;
    ld->rc = -EINVAL;
    if (!ld->errlen)
        return 0;
    int n = snprintf(ld->err, ld->errlen, "%s:%d: ", ld->path, ld->fail_line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < ld->errlen)
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *p = ld->err; *p; p++) /* one line, whatever the file held */
        if (iscntrl((unsigned char)*p))
            *p = '?';
    return 0; /* inih: stop */
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

/* `line` is "[...]" with leading blanks gone: ends the previous section,
 * starts this one. */
static bool begin_section(struct fl__loader *ld, char *line)
{
    if (ld->sec != FL__SEC_NONE && !fl__scenario_finish_section(ld))
        return false;
    char *close = strchr(line, ']');
    if (!close)
        return fl__scenario_fail(ld, ld->lineno, "section header without ']'");
    char *rest = close + 1 + strspn(close + 1, " \t\r\n");
    if (*rest && *rest != '#' && *rest != ';')
        return fl__scenario_fail(ld, ld->lineno, "text after ']'");
    *close = '\0';
    char *word = fl__scenario_trim(line + 1);
    size_t wl = strcspn(word, " \t");
    char *name = fl__scenario_trim(word + wl + (word[wl] != '\0'));
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

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct fl__loader *ld = user;
    (void)section; /* always "": the reader keeps headers from inih */
    if (ld->fail_line)
        return 0;
    if (ld->sec == FL__SEC_NONE)
        return fl__scenario_fail(ld, ld->lineno,
                                 "%s: outside a section (the file starts with [scenario])", name);
    const struct fl__section *sc = &fl__scenario_sections[ld->sec];
    int i = fl__scenario_key_index(ld->sec, name);
    if (i < 0)
        return fl__scenario_fail(ld, ld->lineno, "unknown key '%s' in [%s%s%s]", name, sc->word,
                                 *fl__scenario_cur_name(ld) ? " " : "", fl__scenario_cur_name(ld));
    if (ld->line[i])
        return fl__scenario_fail(ld, ld->lineno, "%s: given twice (first on line %d)", name,
                                 ld->line[i]);
    ld->line[i] = ld->lineno;
    char why[160];
    const char *bad = fl__scenario_parse_key(&sc->keys[i], value, ld->cur, why, sizeof(why));
    if (bad)
        return fl__scenario_fail(ld, ld->lineno, "%s '%s': %s", name, value, bad);
    return 1;
}

/* Hands inih one line: counted, refused when longer than inih's buffer
 * (which would split it in two), without a UTF-8 byte order mark, leading
 * blanks (which inih takes as a continuation of the previous value) or a
 * trailing " # ..." comment; a section header is handled here and becomes
 * an empty line. */
static char *read_cb(char *buf, int len, void *user)
{
    struct fl__loader *ld = user;
    if (ld->fail_line || !fgets(buf, len, ld->fp)) {
        if (!ld->fail_line && ferror(ld->fp))
            ld->rc = errno ? -errno : -EIO;
        return NULL;
    }
    ld->lineno++;
    size_t n = strlen(buf);
    if (n && buf[n - 1] != '\n') {
        int ch = getc(ld->fp); /* the line's newline, or the end of the file */
        if (ch != '\n' && ch != EOF) {
            fl__scenario_fail(ld, ld->lineno, "line longer than %d characters", len - 1);
            return NULL;
        }
    }
    size_t skip = ld->lineno == 1 && strncmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* BOM */
    skip += strspn(buf + skip, " \t");
    memmove(buf, buf + skip, n - skip + 1);
    for (char *p = buf; (p = strpbrk(p, "#;")) != NULL; p++) {
        if (p > buf && (p[-1] == ' ' || p[-1] == '\t')) {
            strcpy(p, "\n");
            break;
        }
    }
    if (*buf == '[' && !begin_section(ld, buf))
        return NULL;
    if (*buf == '[')
        *buf = '\0';
    else if (*buf && !strchr("#;\r\n", *buf) && !strpbrk(buf, "=:"))
        return fl__scenario_fail(ld, ld->lineno, "expected 'key = value' or '[section]'"), NULL;
    return buf;
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
    ld.fp = fopen(path, "r");
    if (!ld.fp) {
        int e = errno;
        if (errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = ini_parse_stream(read_cb, &ld, ini_cb, &ld);
    if (ld.rc && !ld.fail_line && errlen) /* a read error */
        snprintf(err, errlen, "%s: %s", path, strerror(-ld.rc));
    else if (rc > 0 && !ld.fail_line) /* a line inih could not parse */
        fl__scenario_fail(&ld, rc, "expected 'key = value' or '[section]'");
    else if (rc < 0 && !ld.fail_line)
        ld.rc = -ENOMEM;
    if (!ld.rc)
        fl__scenario_finish_file(&ld);
    fclose(ld.fp);
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

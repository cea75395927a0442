/* fromlog.c - reads an access log, one line at a time, into the fixed-size
 * aggregates of fromlog_internal.h: requests per time bin, per kind the
 * response and request sizes, and (with nginx's $connection) each
 * connection's requests and lifetime as it ends. No line outlives its
 * call, so a log of any length takes the same memory.
 *
 * The grouping into kinds, which fromlog_write.c maps onto the scenario's
 * `work` requests:
 *   upload  POST, PUT or PATCH (a request body the server reads);
 *   static  GET or HEAD of a file: a path whose last segment ends in a
 *           static extension (.css, .js, .png, .html, ...) or that starts
 *           with /static/, /assets/, /images/, /img/, /css/, /js/,
 *           /fonts/ or /media/;
 *   api     every other request. */
#include "fromlog_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const uint64_t fl__fl_size_edges[FL__FL_NSIZE] = {0,        64,       256,       1 << 10, 4 << 10,
                                                  16 << 10, 64 << 10, 256 << 10, 1 << 20};
const uint64_t fl__fl_count_edges[FL__FL_NCOUNT] = {1,   2,   5,    10,    20,     50,
                                                    100, 200, 1000, 10000, 100000, 1000000};
const uint64_t fl__fl_life_edges_ms[FL__FL_NLIFE] = {10,    100,    1000,    10000,
                                                     60000, 600000, 3600000, 86400000};

static const char *const bad_names[FL_FROMLOG_NBAD] = {
#define FL__FROMLOG_NAME(e, name, what) name,
    FL_FROMLOG_BAD_KINDS(FL__FROMLOG_NAME)
#undef FL__FROMLOG_NAME
};

/* --- aggregation -------------------------------------------------------- */

static bool static_path(const char *t, size_t n)
{
    static const char *const dirs[] = {"/static/", "/assets/", "/images/", "/img/",
                                       "/css/",    "/js/",     "/fonts/",  "/media/"};
    static const char *const exts[] = {"css", "js",  "mjs",  "map",  "png",  "jpg",  "jpeg",
                                       "gif", "svg", "ico",  "webp", "avif", "woff", "woff2",
                                       "ttf", "otf", "html", "htm",  "txt",  "xml",  "pdf",
                                       "zip", "gz",  "mp4",  "webm", "mp3"};
    size_t path = 0;
    while (path < n && t[path] != '?' && t[path] != '#')
        path++;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (path >= strlen(dirs[i]) && strncmp(t, dirs[i], strlen(dirs[i])) == 0)
            return true;
    size_t dot = path;
    while (dot > 0 && t[dot - 1] != '.' && t[dot - 1] != '/')
        dot--;
    if (dot == 0 || t[dot - 1] != '.')
        return false;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (path - dot == strlen(exts[i]) && strncasecmp(t + dot, exts[i], path - dot) == 0)
            return true;
    return false;
}

static enum fl__fl_kind classify(const struct fl__fl_rec *r)
{
    if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT") || !strcmp(r->method, "PATCH"))
        return FL__FL_UPLOAD;
    if ((!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) &&
        static_path(r->target, r->target_len))
        return FL__FL_STATIC;
    return FL__FL_API;
}

/* Adds one request at `rel` ms from the first to the time bins, widening
 * them while the log outgrows them. */
static void add_to_bins(struct fl_fromlog *c, int64_t rel)
{
    uint64_t i = (uint64_t)rel / c->bin_ms;
    while (i >= FL__FL_BINS) {
        for (unsigned k = 0; k < FL__FL_BINS / 2; k++)
            c->bins[k] = c->bins[2 * k] + c->bins[2 * k + 1];
        memset(c->bins + FL__FL_BINS / 2, 0, sizeof(c->bins) / 2);
        c->nbins = (c->nbins + 1) / 2;
        c->bin_ms *= 2;
        i = (uint64_t)rel / c->bin_ms;
    }
    c->bins[i]++;
    if (i + 1 > c->nbins)
        c->nbins = (uint32_t)i + 1;
}

static void end_conn(struct fl_fromlog *c, struct fl__fl_conn *e)
{
    unsigned b = fl__fl_bucket(fl__fl_count_edges, FL__FL_NCOUNT, e->count);
    c->creq_conns[b]++;
    c->creq_reqs[b] += e->count;
    int64_t life = e->last_ms - e->first_ms;
    life = life > 0 ? life : 0;
    c->life[fl__fl_bucket(fl__fl_life_edges_ms, FL__FL_NLIFE, (uint64_t)life)]++;
    c->life_sum_s += (double)life / 1000;
    c->conn_done++;
    e->used = false;
}

/* The line's connection: found, or started (ending the least recently
 * seen of a full set). A $connection_requests of 1 starts a new one even
 * if the id is known (nginx restarted and counts from 1 again). */
static void track_conn(struct fl_fromlog *c, const struct fl__fl_rec *r, int64_t rel)
{
    uint64_t h = (r->conn * UINT64_C(0x9e3779b97f4a7c15)) >> 32;
    struct fl__fl_conn *set = c->conns + (h % FL__FL_CONN_SETS) * FL__FL_CONN_WAYS, *e = NULL;
    for (unsigned w = 0; w < FL__FL_CONN_WAYS && !e; w++)
        if (set[w].used && set[w].id == r->conn)
            e = &set[w];
    if (e && r->has_creq && r->creq == 1) {
        end_conn(c, e);
        e = NULL;
    }
    int64_t start = rel - (r->has_rtime ? (int64_t)(r->rtime_s * 1000) : 0);
    for (unsigned w = 0; w < FL__FL_CONN_WAYS && !e; w++)
        if (!set[w].used)
            e = &set[w];
    if (!e) { /* a full set: the least recently seen ends */
        e = &set[0];
        for (unsigned w = 1; w < FL__FL_CONN_WAYS; w++)
            if (set[w].last_ms < e->last_ms)
                e = &set[w];
        c->conn_cut += rel - e->last_ms < 75000; /* nginx's keepalive_timeout */
        end_conn(c, e);
    }
    if (!e->used)
        *e = (struct fl__fl_conn){.id = r->conn, .first_ms = start, .last_ms = rel, .used = true};
    e->count = !r->has_creq ? e->count + 1 : r->creq > e->count ? r->creq : e->count;
    e->last_ms = rel > e->last_ms ? rel : e->last_ms;
    e->first_ms = start < e->first_ms ? start : e->first_ms;
}

void fl__fl_close_conns(struct fl_fromlog *c)
{
    for (size_t i = 0; i < (size_t)FL__FL_CONN_SETS * FL__FL_CONN_WAYS; i++)
        if (c->conns[i].used)
            end_conn(c, &c->conns[i]);
}

static enum fl_fromlog_bad add(struct fl_fromlog *c, const struct fl__fl_rec *r)
{
    if (!c->have_t0) {
        c->have_t0 = true;
        c->t0_ms = r->t_ms;
    }
    int64_t rel = r->t_ms - c->t0_ms;
    if (rel > FL__FL_MAX_SPAN_MS || rel < -FL__FL_MAX_SPAN_MS)
        return FL_FROMLOG_BAD_TIME_RANGE;
    rel = rel > 0 ? rel : 0; /* lines a little out of order (logged as they end) */
    add_to_bins(c, rel);
    c->last_ms = rel > c->last_ms ? rel : c->last_ms;
    struct fl__fl_kind_agg *k = &c->kinds[classify(r)];
    k->n++;
    k->resp[fl__fl_bucket(fl__fl_size_edges, FL__FL_NSIZE, r->bytes)]++;
    k->resp_over += r->bytes > fl__fl_size_edges[FL__FL_NSIZE - 1];
    k->not_2xx += r->status < 200 || r->status > 299;
    if (r->has_len) {
        k->len[fl__fl_bucket(fl__fl_size_edges, FL__FL_NSIZE, r->len)]++;
        k->len_over += r->len > fl__fl_size_edges[FL__FL_NSIZE - 1];
        k->len_n++;
        k->len_sum += r->len;
        c->with_len++;
    }
    if (r->has_rtime) {
        c->with_rtime++;
        c->rtime_sum_s += r->rtime_s;
    }
    c->with_creq += r->has_creq;
    if (r->has_conn) {
        c->with_conn++;
        track_conn(c, r, rel);
    }
    c->requests++;
    return FL_FROMLOG_NBAD;
}

/* --- the API ------------------------------------------------------------ */

struct fl_fromlog *fl_fromlog_new(enum fl_fromlog_format fmt)
{
    struct fl_fromlog *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->conns = calloc((size_t)FL__FL_CONN_SETS * FL__FL_CONN_WAYS, sizeof(*c->conns));
    if (!c->conns) {
        free(c);
        return NULL;
    }
    c->fmt = fmt;
    c->bin_ms = 1000;
    return c;
}

void fl_fromlog_free(struct fl_fromlog *c)
{
    if (!c)
        return;
    free(c->conns);
    free(c);
}

bool fl_fromlog_line(struct fl_fromlog *c, const char *line, size_t len)
{
    struct fl__fl_rec r = {0};
    void *tree = NULL;
    enum fl_fromlog_bad b;
    c->lines++;
    if (memchr(line, '\0', len))
        b = FL_FROMLOG_BAD_LAYOUT;
    else if (c->fmt == FL_FROMLOG_JSON)
        b = fl__fl_parse_json(line, len, &r, &tree);
    else
        b = fl__fl_parse_combined(line, &r);
    if (b == FL_FROMLOG_NBAD)
        b = add(c, &r);
    fl__fl_json_free(tree);
    if (b != FL_FROMLOG_NBAD)
        c->bad[b]++;
    return b == FL_FROMLOG_NBAD;
}

int fl_fromlog_read(struct fl_fromlog *c, FILE *in)
{
    char *buf = c->buf;
    while (fgets(buf, FL_FROMLOG_LINE_MAX, in)) {
        size_t n = strlen(buf);
        if (n == FL_FROMLOG_LINE_MAX - 1 && buf[n - 1] != '\n') { /* skip the rest of it */
            int ch;
            while ((ch = getc(in)) != EOF && ch != '\n')
                ;
            c->lines++;
            c->bad[FL_FROMLOG_BAD_TOO_LONG]++;
            continue;
        }
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            buf[--n] = '\0';
        if (n) /* blank lines are not lines of the log */
            fl_fromlog_line(c, buf, n);
    }
    return ferror(in) ? -EIO : 0;
}

uint64_t fl_fromlog_lines(const struct fl_fromlog *c)
{
    return c->lines;
}

uint64_t fl_fromlog_requests(const struct fl_fromlog *c)
{
    return c->requests;
}

uint64_t fl_fromlog_bad(const struct fl_fromlog *c, enum fl_fromlog_bad k)
{
    return k < FL_FROMLOG_NBAD ? c->bad[k] : 0;
}

const char *fl_fromlog_bad_name(enum fl_fromlog_bad k)
{
    return k < FL_FROMLOG_NBAD ? bad_names[k] : "?";
}

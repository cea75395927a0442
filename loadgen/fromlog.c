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

#include <cjson/cJSON.h>

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

/* One line's fields; `target` points into the line. */
struct rec {
    int64_t t_ms;
    char method[16];
    const char *target;
    size_t target_len;
    unsigned status;
    uint64_t bytes;
    bool has_len, has_rtime, has_conn, has_creq;
    uint64_t len, conn, creq;
    double rtime_s;
};

/* --- values ------------------------------------------------------------- */

/* Digits only, at most 18 of them: 0, or -1. "-" is 0 (Apache's %b). */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 1 && *s == '-') {
        *out = 0;
        return 0;
    }
    if (!n || n > 18)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "12.345" (seconds): 0, or -1. */
static int parse_secs(const char *s, size_t n, double *out)
{
    char buf[32];
    if (!n || n >= sizeof(buf) || !isdigit((unsigned char)*s))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    double v = strtod(buf, &end);
    if (*end || !(v >= 0) || v > 1e12)
        return -1;
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar, with
 * years counted from March so the leap day ends a year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int64_t to_ms(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                     int off_min, unsigned ms)
{
    int64_t days = days_from_civil(y, mo, d);
    return ((days * 24 + h) * 60 + mi - off_min) * 60000 + (int64_t)s * 1000 + ms;
}

static bool valid_clock(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s)
{
    return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 &&
           mi < 60 && s <= 60;
}

/* "05/Dec/2026:18:09:24 +0000" ($time_local, Apache's %t). */
static int parse_time_local(const char *s, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4], sign;
    int y, n = 0;
    unsigned d, h, mi, sec, oh, om;
    if (sscanf(s, "%2u/%3[A-Za-z]/%4d:%2u:%2u:%2u %c%2u%2u%n", &d, mon, &y, &h, &mi, &sec, &sign,
               &oh, &om, &n) != 9 ||
        (s[n] && s[n] != ']' && s[n] != '"') || (sign != '+' && sign != '-'))
        return -1;
    const char *p = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (!p || (p - months) % 3 || !valid_clock(y, (unsigned)(p - months) / 3 + 1, d, h, mi, sec))
        return -1;
    int off = (int)(oh * 60 + om) * (sign == '-' ? -1 : 1);
    *out = to_ms(y, (unsigned)(p - months) / 3 + 1, d, h, mi, sec, off, 0);
    return 0;
}

/* "2026-12-05T18:09:24+00:00", "...24.123Z" ($time_iso8601). */
static int parse_iso8601(const char *s, int64_t *out)
{
    int y, n = 0;
    unsigned mo, d, h, mi, sec, ms = 0;
    if (sscanf(s, "%4d-%2u-%2uT%2u:%2u:%2u%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        !valid_clock(y, mo, d, h, mi, sec))
        return -1;
    const char *p = s + n;
    if (*p == '.') {
        unsigned scale = 100;
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            ms += (unsigned)(*p - '0') * scale;
    }
    int off = 0;
    unsigned oh, om;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2u:%2u", &oh, &om) == 2 && !p[6])
        off = (int)(oh * 60 + om) * (*p == '-' ? -1 : 1);
    else if (strcmp(p, "Z") != 0)
        return -1;
    *out = to_ms(y, mo, d, h, mi, sec, off, ms);
    return 0;
}

/* "METHOD TARGET [PROTOCOL]": 0, or -1. */
static int parse_request(const char *s, size_t n, struct rec *r)
{
    size_t m = 0;
    while (m < n && m < sizeof(r->method) - 1 && isupper((unsigned char)s[m]))
        m++;
    if (!m || m >= n || s[m] != ' ')
        return -1;
    memcpy(r->method, s, m);
    r->method[m] = '\0';
    const char *t = s + m + 1, *end = s + n;
    size_t tl = 0;
    while (t + tl < end && t[tl] != ' ')
        tl++;
    if (!tl || (*t != '/' && *t != '*' && strncasecmp(t, "http", 4) != 0))
        return -1;
    const char *proto = t + tl;
    if (proto < end && (end - proto < 6 || strncmp(proto + 1, "HTTP/", 5) != 0))
        return -1;
    r->target = t;
    r->target_len = tl;
    return 0;
}

/* --- the two formats ---------------------------------------------------- */

/* The quoted field starting at *p (at its '"'): its text and length; *p
 * moves past the closing quote. Apache escapes a quote inside as \". */
static const char *quoted(const char **p, size_t *len)
{
    const char *s = *p;
    if (*s != '"')
        return NULL;
    const char *q = s + 1;
    while (*q && (*q != '"' || q[-1] == '\\'))
        q++;
    if (!*q)
        return NULL;
    *len = (size_t)(q - s - 1);
    *p = q + 1;
    return s + 1;
}

/* %h %l %u [%t] "%r" %>s %b ["referer" "agent"]: a bad kind, or NBAD. */
static enum fl_fromlog_bad parse_combined(const char *line, struct rec *r)
{
    const char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
    if (!open || !close || close[1] != ' ')
        return FL_FROMLOG_BAD_LAYOUT;
    if (parse_time_local(open + 1, &r->t_ms))
        return FL_FROMLOG_BAD_TIME;
    const char *p = close + 2;
    size_t rl;
    const char *req = quoted(&p, &rl);
    if (!req || *p != ' ')
        return FL_FROMLOG_BAD_LAYOUT;
    if (parse_request(req, rl, r))
        return FL_FROMLOG_BAD_REQUEST;
    p++;
    size_t sl = strcspn(p, " ");
    uint64_t status;
    if (!p[sl] || parse_u64(p, sl, &status) || status < 100 || status > 999)
        return sl && p[sl] ? FL_FROMLOG_BAD_NUMBER : FL_FROMLOG_BAD_LAYOUT;
    r->status = (unsigned)status;
    p += sl + 1;
    size_t bl = strcspn(p, " ");
    if (parse_u64(p, bl, &r->bytes))
        return bl ? FL_FROMLOG_BAD_NUMBER : FL_FROMLOG_BAD_LAYOUT;
    return FL_FROMLOG_NBAD;
}

/* A JSON field as text (a string's value or a bare number's digits):
 * NULL when absent or of another type. */
static const char *jtext(const cJSON *o, const char *name, char *buf, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(buf, len, "%.3f", v->valuedouble);
        size_t n = strlen(buf); /* "12.000" is 12 where a whole number is wanted */
        if (n > 4 && strcmp(buf + n - 4, ".000") == 0)
            buf[n - 4] = '\0';
        return buf;
    }
    return NULL;
}

/* An optional whole-number field: true when present and valid; *bad set
 * when present and not a number. */
static bool jnum(const cJSON *o, const char *name, uint64_t *out, bool *bad)
{
    char buf[48];
    const char *t = jtext(o, name, buf, sizeof(buf));
    if (!t || !*t)
        return false;
    if (parse_u64(t, strlen(t), out)) {
        *bad = true;
        return false;
    }
    return true;
}

static enum fl_fromlog_bad json_time(const cJSON *o, struct rec *r)
{
    char buf[48];
    const char *t = jtext(o, "msec", buf, sizeof(buf));
    double s;
    if (t) {
        if (parse_secs(t, strlen(t), &s))
            return FL_FROMLOG_BAD_TIME;
        r->t_ms = (int64_t)(s * 1000 + 0.5);
        return FL_FROMLOG_NBAD;
    }
    if ((t = jtext(o, "time_iso8601", buf, sizeof(buf))))
        return parse_iso8601(t, &r->t_ms) ? FL_FROMLOG_BAD_TIME : FL_FROMLOG_NBAD;
    if ((t = jtext(o, "time_local", buf, sizeof(buf))))
        return parse_time_local(t, &r->t_ms) ? FL_FROMLOG_BAD_TIME : FL_FROMLOG_NBAD;
    return FL_FROMLOG_BAD_LAYOUT;
}

/* The fields of the json format (fromlog.h). `o` is one parsed line. */
static enum fl_fromlog_bad parse_json_fields(const cJSON *o, struct rec *r)
{
    enum fl_fromlog_bad b = json_time(o, r);
    if (b != FL_FROMLOG_NBAD)
        return b;
    char buf[48];
    const char *req = jtext(o, "request", buf, sizeof(buf));
    bool bad = false;
    uint64_t status;
    if (!req || !jnum(o, "status", &status, &bad) || !jnum(o, "body_bytes_sent", &r->bytes, &bad))
        return bad ? FL_FROMLOG_BAD_NUMBER : FL_FROMLOG_BAD_LAYOUT;
    if (parse_request(req, strlen(req), r))
        return FL_FROMLOG_BAD_REQUEST;
    if (status < 100 || status > 999)
        return FL_FROMLOG_BAD_NUMBER;
    r->status = (unsigned)status;
    r->has_len = jnum(o, "request_length", &r->len, &bad);
    r->has_conn = jnum(o, "connection", &r->conn, &bad);
    r->has_creq = jnum(o, "connection_requests", &r->creq, &bad);
    const char *rt = jtext(o, "request_time", buf, sizeof(buf));
    if (rt && *rt && parse_secs(rt, strlen(rt), &r->rtime_s))
        bad = true;
    r->has_rtime = rt && *rt && !bad;
    return bad ? FL_FROMLOG_BAD_NUMBER : FL_FROMLOG_NBAD;
}

/* The target of a parsed request lives in the JSON tree, so the line's
 * aggregation happens before the tree goes: see fl_fromlog_line. */
static enum fl_fromlog_bad parse_json(const char *line, size_t len, struct rec *r, cJSON **tree)
{
    *tree = cJSON_ParseWithLength(line, len);
    if (!cJSON_IsObject(*tree))
        return FL_FROMLOG_BAD_LAYOUT;
    return parse_json_fields(*tree, r);
}

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

static enum fl__fl_kind classify(const struct rec *r)
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
static void track_conn(struct fl_fromlog *c, const struct rec *r, int64_t rel)
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

static enum fl_fromlog_bad add(struct fl_fromlog *c, const struct rec *r)
{
    if (!c->have_t0) {
        c->have_t0 = true;
        c->t0_ms = r->t_ms;
    }
    int64_t rel = r->t_ms - c->t0_ms;
    if (rel > FL__FL_MAX_SPAN_MS)
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
    struct rec r = {0};
    cJSON *tree = NULL;
    enum fl_fromlog_bad b;
    c->lines++;
    if (memchr(line, '\0', len))
        b = FL_FROMLOG_BAD_LAYOUT;
    else if (c->fmt == FL_FROMLOG_JSON)
        b = parse_json(line, len, &r, &tree);
    else
        b = parse_combined(line, &r);
    if (b == FL_FROMLOG_NBAD)
        b = add(c, &r);
    cJSON_Delete(tree);
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

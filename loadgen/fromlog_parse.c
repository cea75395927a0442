/* fromlog_parse.c - one access-log line into its fields (struct
 * fl__fl_rec): the combined format (nginx's and Apache's; common too) and
 * the json one (fromlog.h), and the timestamps they carry ($time_local,
 * $time_iso8601, $msec). Nothing here allocates but cJSON's tree of a
 * json line, freed by the caller once the line is added. */
#include "fromlog_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

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
static int parse_request(const char *s, size_t n, struct fl__fl_rec *r)
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
enum fl_fromlog_bad fl__fl_parse_combined(const char *line, struct fl__fl_rec *r)
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

static enum fl_fromlog_bad json_time(const cJSON *o, struct fl__fl_rec *r)
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
static enum fl_fromlog_bad parse_json_fields(const cJSON *o, struct fl__fl_rec *r)
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

enum fl_fromlog_bad fl__fl_parse_json(const char *line, size_t len, struct fl__fl_rec *r,
                                      void **tree)
{
    cJSON *t = cJSON_ParseWithLength(line, len);
    *tree = t;
    if (!cJSON_IsObject(t))
        return FL_FROMLOG_BAD_LAYOUT;
    return parse_json_fields(t, r);
}

void fl__fl_json_free(void *tree)
{
    cJSON_Delete(tree);
}

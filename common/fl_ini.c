/* fl_ini.c - the one INI reader (grammar: fl_ini.h). inih splits "key = value",
 * but four things it does are wrong for us, so its line reader is ours:
 * Debian's build does not tell the handler the line number; a line longer
 * than its buffer would be split in two; an indented line continues the
 * previous value; and it reports neither a section without keys nor a
 * repeated one. The reader counts lines, refuses long ones, drops leading
 * blanks and trailing comments, and hands section headers to the caller
 * itself (inih gets an empty line in their place). */
#include "fl_ini.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ini.h>

struct reader {
    const struct fl_ini_handlers *h;
    void *user;
    const char *path;
    char *err;
    size_t errlen;
    FILE *fp;
    int lineno;
    int rc; /* 0, or -errno once failed (err written) */
};

int fl_ini_verror(char *err, size_t errlen, const char *path, int line, const char *fmt, va_list ap)
{
    if (!errlen)
        return -EINVAL;
    int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", path, line)
                     : snprintf(err, errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    for (char *p = err; *p; p++) /* one line, whatever the file held */
        if (iscntrl((unsigned char)*p))
            *p = '?';
    return -EINVAL;
}

int fl_ini_error(char *err, size_t errlen, const char *path, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fl_ini_verror(err, errlen, path, line, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

char *fl_ini_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* `line` is "[...]", comment gone: checks it and hands the name over. */
static int section(struct reader *r, char *line)
{
    char *close = strchr(line, ']');
    if (!close)
        return fl_ini_error(r->err, r->errlen, r->path, r->lineno, "section header without ']'");
    char *rest = close + 1 + strspn(close + 1, " \t\r\n");
    if (*rest && *rest != '#' && *rest != ';')
        return fl_ini_error(r->err, r->errlen, r->path, r->lineno, "text after ']'");
    *close = '\0';
    return r->h->section_cb(r->user, fl_ini_trim(line + 1), r->lineno);
}

/* Drops a leading byte order mark (line 1), leading blanks, and a comment
 * that starts after a blank. */
static void strip(struct reader *r, char *buf, size_t n)
{
    size_t skip = r->lineno == 1 && strncmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    skip += strspn(buf + skip, " \t");
    memmove(buf, buf + skip, n - skip + 1);
    for (char *p = buf; (p = strpbrk(p, "#;")) != NULL; p++) {
        if (p > buf && (p[-1] == ' ' || p[-1] == '\t')) {
            strcpy(p, "\n");
            break;
        }
    }
}

/* Hands inih one line, as the file comment says. */
static char *read_cb(char *buf, int len, void *user)
{
    struct reader *r = user;
    if (r->rc)
        return NULL;
    errno = 0;
    if (!fgets(buf, len, r->fp)) {
        if (ferror(r->fp)) { /* "FILE: why", no line: the file, not a line, failed */
            r->rc = errno && errno != EINVAL ? -errno : -EIO;
            if (r->errlen)
                snprintf(r->err, r->errlen, "%s: %s", r->path, strerror(-r->rc));
        }
        return NULL;
    }
    r->lineno++;
    size_t n = strlen(buf);
    if (n && buf[n - 1] != '\n') {
        int ch = getc(r->fp); /* the line's newline, or the end of the file */
        if (ch != '\n' && ch != EOF) {
            r->rc = fl_ini_error(r->err, r->errlen, r->path, r->lineno,
                                 "line longer than %d characters", len - 1);
            return NULL;
        }
    }
    strip(r, buf, n);
    if (*buf == '[') {
        r->rc = section(r, buf);
        *buf = '\0';
    } else if (*buf && !strchr("#;\r\n", *buf) && !strpbrk(buf, "=:")) {
        r->rc = fl_ini_error(r->err, r->errlen, r->path, r->lineno,
                             "expected 'key = value' or '[section]'");
    }
    return r->rc ? NULL : buf;
}

static int key_cb(void *user, const char *section, const char *name, const char *value)
{
    struct reader *r = user;
    (void)section; /* always "": the reader keeps headers from inih */
    if (!r->rc)
        r->rc = r->h->key_cb(r->user, name, value, r->lineno);
    return r->rc == 0;
}

int fl_ini_parse(const char *path, const struct fl_ini_handlers *h, void *user, char *err,
                 size_t errlen)
{
    struct reader r = {.h = h, .user = user, .path = path, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    r.fp = fopen(path, "r");
    if (!r.fp) {
        int e = errno && errno != EINVAL ? errno : EIO;
        if (errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = ini_parse_stream(read_cb, &r, key_cb, &r);
    fclose(r.fp);
    if (!r.rc && rc > 0) /* a line inih could not parse though the reader let it by */
        r.rc = fl_ini_error(err, errlen, path, rc, "expected 'key = value' or '[section]'");
    else if (!r.rc && rc < 0) {
        r.rc = -ENOMEM;
        if (errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
    }
    return r.rc;
}

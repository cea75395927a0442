/* fl_ini.h - the one INI reader of both programs (the server's --config file
 * and the loadgen's scenarios), on top of inih's ini_parse_stream.
 *
 * The grammar, the same for both: "[section]" and "key = value" (or
 * "key: value") lines; '#' or ';' start a comment at the start of a line or
 * after a blank; leading blanks are dropped (an indented line is a key, not
 * a continuation of the previous value); a UTF-8 byte order mark is
 * skipped; a line is at most FL_INI_LINE_MAX characters. Every error is
 * one line "FILE:LINE: what". */
#ifndef FL_COMMON_FL_INI_H
#define FL_COMMON_FL_INI_H

#include <stdarg.h>
#include <stddef.h>

/* inih's line buffer (Debian builds it with INI_MAX_LINE 200), less the NUL. */
#define FL_INI_LINE_MAX 199

/* The caller's side of a parse. Both callbacks get the line number and
 * return 0 to go on, or -errno (usually -EINVAL) having written the error,
 * normally with fl_ini_error; the parse then stops and returns it. */
struct fl_ini_handlers {
    /* A "[...]" line: `name` is the text between the brackets, trimmed. */
    int (*section_cb)(void *user, const char *name, int line);
    /* A "key = value" line: both trimmed, the value without its comment. */
    int (*key_cb)(void *user, const char *key, const char *value, int line);
};

/* Reads the INI file at `path`, calling `h` for each section header and
 * key in file order. 0; -EINVAL for a bad line, with "FILE:LINE: what" in
 * `err`; a callback's own -errno; or, when the file cannot be opened or
 * read, that -errno (never -EINVAL) with "FILE: strerror" in `err`. */
int fl_ini_parse(const char *path, const struct fl_ini_handlers *h, void *user, char *err,
                 size_t errlen);

/* Writes "FILE:LINE: what" (line 0: "FILE: what") into `err` as one line
 * (control characters become '?'); returns -EINVAL. */
__attribute__((format(printf, 5, 6))) int fl_ini_error(char *err, size_t errlen, const char *path,
                                                       int line, const char *fmt, ...);

/* Trims white space at both ends of `s` in place; the trimmed start. */
char *fl_ini_trim(char *s);

/* fl_ini_error with a va_list. */
__attribute__((format(printf, 5, 0))) int fl_ini_verror(char *err, size_t errlen, const char *path,
                                                        int line, const char *fmt, va_list ap);

#endif

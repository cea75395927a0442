/* matrix_report_html.c - DIR/index.html: one static page with no outside
 * resources (inline CSS, the PNGs beside it); everything read from the
 * folder is HTML-escaped. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "matrix_report_internal.h"

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
}

static const char css[] = "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}"
                          "table{border-collapse:collapse;margin:1em 0}"
                          "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}"
                          "th{background:#eee}td.l,th.l{text-align:left}"
                          "tr.failed td{background:#fdd}tr.partial td{background:#ffd}"
                          "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
                          "code,pre{background:#f4f4f4;padding:.1em .3em}pre{white-space:pre-wrap}";

static void td_bytes(FILE *f, double v)
{
    char b[32];
    fl__mr_fmt_bytes(b, sizeof(b), v);
    fprintf(f, "<td>%s</td>", b);
}

static void td_num(FILE *f, double v, int prec, const char *suffix)
{
    char b[64];
    fl__mr_num(b, sizeof(b), v, prec);
    fprintf(f, "<td>%s%s</td>", b[0] ? b : "n/a", b[0] ? suffix : "");
}

static void td_str(FILE *f, const char *s)
{
    fputs("<td class=\"l\">", f);
    esc(f, s ? s : "?");
    fputs("</td>", f);
}

static void table(FILE *f, const struct fl__mr_report *r)
{
    fputs("<table id=\"matrix\"><thead><tr><th class=\"l\">mode</th><th class=\"l\">allocator"
          "</th><th class=\"l\">status</th><th>req/s</th><th>p99 (us)</th><th>RSS peak</th>"
          "<th>RSS steady</th><th>RSS after idle</th><th>returned</th><th>allocated at peak</th>"
          "<th>resident at peak</th><th>allocated after idle</th><th>resident after idle</th>"
          "<th>frag at peak</th><th>LazyFree after idle</th><th>cross-thread frees</th>"
          "<th>stair-steps</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        bool ok = run->status && !strcmp(run->status, "ok");
        bool partial = run->has_csv && !run->has_summary;
        fprintf(f, "<tr class=\"run%s\">", !ok && !partial ? " failed" : partial ? " partial" : "");
        td_str(f, run->mode);
        td_str(f, run->spec ? run->spec : run->allocator);
        fputs("<td class=\"l\">", f);
        esc(f, run->status ? run->status : "?");
        fputs(partial ? " (partial)</td>" : "</td>", f);
        td_num(f, run->rps, 0, "");
        td_num(f, run->p99_us, 0, "");
        td_bytes(f, run->rss_peak);
        td_bytes(f, run->rss_steady);
        td_bytes(f, run->rss_idle);
        td_num(f, run->returned * 100, 1, " %");
        td_bytes(f, run->alloc_peak);
        td_bytes(f, run->res_peak);
        td_bytes(f, run->alloc_idle);
        td_bytes(f, run->res_idle);
        td_num(f, run->frag_peak, 2, "");
        td_bytes(f, run->lazy_idle);
        if (!isnan(run->cross_share))
            td_num(f, run->cross_share * 100, 1, " %");
        else
            td_num(f, run->cross_frees, 0, "");
        if (run->has_csv)
            fprintf(f, "<td>%d</td>", run->nsteps);
        else
            fputs("<td>n/a</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void ratios(FILE *f, const struct fl__mr_report *r)
{
    fputs("<h2>Work-stealing over thread-per-core</h2>\n", f);
    if (!r->nratios) {
        fputs("<p>No allocator ran under both tpc and ws.</p>\n", f);
        return;
    }
    fputs("<table id=\"ratios\"><thead><tr><th class=\"l\">allocator</th><th class=\"l\">ratio"
          "</th><th>RSS peak</th><th>RSS after idle</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < r->nratios; i++) {
        fputs("<tr>", f);
        td_str(f, r->ratios[i].allocator);
        fputs("<td class=\"l\">", f);
        esc(f, r->ratios[i].mode);
        fputs("/tpc</td>", f);
        td_num(f, r->ratios[i].peak, 2, " &times;");
        td_num(f, r->ratios[i].final, 2, " &times;");
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void pictures(FILE *f, const struct fl__mr_report *r)
{
    static const char *const pngs[][2] = {
        {"rss.png", "RSS over time, one panel per mode; idle tail shaded, stair-steps marked"},
        {"alloc.png", "allocated and resident bytes over time"},
        {"bars.png", "RSS peak, steady and after idle, and throughput, per run"}};
    fputs("<h2>Pictures</h2>\n", f);
    if (!r->plots) {
        fputs("<p>No plots this time (<code>--no-plots</code>, or gnuplot missing or failed: "
              "see <code>plots.log</code>).</p>\n",
              f);
        return;
    }
    for (size_t i = 0; i < sizeof(pngs) / sizeof(pngs[0]); i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", r->dir, pngs[i][0]);
        if (stat(path, &st) == 0 && st.st_size > 0)
            fprintf(f, "<figure><img src=\"%s\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n",
                    pngs[i][0], pngs[i][1], pngs[i][1]);
    }
}

static void steps(FILE *f, const struct fl__mr_report *r)
{
    fputs("<h2>Stair-steps</h2>\n<p>", f);
    esc(f, fl__mr_step_rule);
    fputs("</p>\n<ul id=\"steps\">\n", f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (!run->nsteps)
            continue;
        fputs("<li>", f);
        esc(f, run->name);
        fprintf(f, ": %d step%s:", run->nsteps, run->nsteps == 1 ? "" : "s");
        for (int s = 0; s < run->nsteps && s < FL__MR_MAX_STEPS; s++) {
            char a[32], b[32];
            fl__mr_fmt_bytes(a, sizeof(a), run->steps[s].from);
            fl__mr_fmt_bytes(b, sizeof(b), run->steps[s].to);
            fprintf(f, "%s at %.1f s (%s &rarr; %s)", s ? ";" : "", run->steps[s].t_s, a, b);
        }
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static void failures(FILE *f, const struct fl__mr_report *r)
{
    bool any = false;
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (run->status && !strcmp(run->status, "ok") && !run->error)
            continue;
        if (!any)
            fputs("<h2>Runs that did not complete</h2>\n<ul id=\"failed\">\n", f);
        any = true;
        fputs("<li><b>", f);
        esc(f, run->name);
        fputs("</b> (", f);
        esc(f, run->status ? run->status : "?");
        fputs("): ", f);
        esc(f, run->error ? run->error : "no error recorded");
        fputs("</li>\n", f);
    }
    if (any)
        fputs("</ul>\n", f);
}

static void kv(FILE *f, const char *k, const cJSON *v)
{
    fputs("<tr><th class=\"l\">", f);
    esc(f, k);
    fputs("</th><td class=\"l\">", f);
    if (cJSON_IsString(v)) {
        esc(f, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        const cJSON *it;
        fputs("<code>", f);
        cJSON_ArrayForEach(it, v)
        {
            esc(f, cJSON_IsString(it) ? it->valuestring : "?");
            fputc(' ', f);
        }
        fputs("</code>", f);
    } else if (cJSON_IsNumber(v)) {
        fprintf(f, "%g", v->valuedouble);
    } else {
        fputs("n/a", f);
    }
    fputs("</td></tr>\n", f);
}

static void manifest(FILE *f, const struct fl__mr_report *r)
{
    fputs("<h2>Manifest</h2>\n<table id=\"manifest\">\n", f);
    static const char *const top[] = {"scenario", "duration_s", "idle_s", "interval_s",
                                      "started_at"};
    for (size_t k = 0; k < sizeof(top) / sizeof(top[0]); k++)
        kv(f, top[k], cJSON_GetObjectItemCaseSensitive(r->runs_json, top[k]));
    const cJSON *it;
    cJSON_ArrayForEach(it, r->manifest) kv(f, it->string ? it->string : "?", it);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (!run->alloc_name)
            continue;
        fputs("<tr><th class=\"l\">allocator of ", f);
        esc(f, run->name);
        fputs("</th><td class=\"l\">", f);
        esc(f, run->alloc_name);
        fputc(' ', f);
        esc(f, run->alloc_version ? run->alloc_version : "");
        fputs(" (spec <code>", f);
        esc(f, run->spec);
        fputs("</code>)</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static const char how_to_read[] =
    "<h2>How to read this</h2>\n<p>Each row is one server run under one runtime mode and "
    "allocator, driven by the same seeded scenario and then left idle (no connections) for "
    "the idle tail. <b>RSS peak</b> is the largest resident set seen; <b>steady</b> the "
    "median over the last half of the load; <b>after idle</b> the last idle-tail sample, and "
    "<b>returned</b> the share of the peak given back by then. Memory that the allocator "
    "still counts as allocated is live data; resident minus allocated is fragmentation and "
    "caching (<b>frag</b> = (resident - allocated) / allocated at the last load sample, as the "
    "server reports it; with glibc, which gives no resident figure, anonymous RSS stands for "
    "resident). A mode whose RSS climbs in steps that never come back, or whose ratio over "
    "tpc stays above 1 after idle, is keeping memory its threads freed for one another. "
    "LazyFree is memory given back with MADV_FREE that the kernel has not yet reclaimed. "
    "Yellow rows are partial (still running), red ones failed.</p>\n";

int fl__mr_write_html(const struct fl__mr_report *r, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/index.html", r->dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r->runs_json, "scenario");
    const char *name = cJSON_IsString(sc) ? sc->valuestring : "?";
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fraglab "
          "matrix: ",
          f);
    esc(f, name);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>fraglab matrix: ", css);
    esc(f, name);
    fputs("</h1>\n", f);
    table(f, r);
    ratios(f, r);
    pictures(f, r);
    steps(f, r);
    failures(f, r);
    manifest(f, r);
    fputs(how_to_read, f);
    fputs("</body></html>\n", f);
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed", path);
        return -EIO;
    }
    return 0;
}

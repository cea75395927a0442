/* matrix_report_html.c - DIR/index.html: one page with no outside
 * resources (inline CSS, the charts' script and data inline through
 * matrix_report_charts.c, the PNGs beside it); everything read from the
 * folder is HTML-escaped. The live page (fl_mr_write_live) reloads itself;
 * every page replaces the last by a rename. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "matrix_report_internal.h"
#include "matrix_verdict.h"

void fl__mr_esc(FILE *f, const char *s)
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

/* The page fits a 1400 px window: byte columns carry their unit (MiB) in
 * the header, headers wrap, group headers name what three columns share,
 * and the allocator's own figures go to a second table. */
static const char css[] =
    "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "th,td{border:1px solid #bbb;padding:.25em .5em;text-align:right}"
    "th{background:#eee;font-weight:normal}td.l,th.l{text-align:left}"
    "thead th{vertical-align:bottom}"
    "td{white-space:nowrap}td.nc{color:#888}"
    "td.alloc{white-space:normal;overflow-wrap:anywhere;min-width:9em;"
    "max-width:16em}"
    "span.drift{display:block;white-space:normal;color:#a40;font-size:90%}"
    "tr.failed td{background:#fdd}tr.partial td{background:#ffd}"
    "img{max-width:100%;border:1px solid #ddd;margin:.5em 0}"
    "code,pre{background:#f4f4f4;padding:.1em .3em}pre{white-space:pre-wrap}"
    "p.live{background:#eef6ff;border:1px solid #9bd;padding:.4em .6em}"
    "#verdict{border-left:4px solid #2a6;padding:.2em .8em;background:#f4fbf6}"
    "#verdict p{margin:.3em 0}#verdict p.head{font-weight:bold}"
    "#verdict p.sub{margin-left:1.5em}"
    ".chart{width:100%;height:300px}.toggles{font-size:85%;margin:.3em 0}"
    ".toggles label{margin-right:1em;white-space:nowrap}"
    ".dygraph-legend{font-size:80%!important;width:auto!important;"
    "background:rgba(255,255,255,.9)!important}";

#define MIB (1024.0 * 1024.0)

/* Bytes as MiB with one decimal; the header says the unit. */
static void td_mib(FILE *f, double v)
{
    char b[64];
    fl__mr_num(b, sizeof(b), v / MIB, 1);
    fprintf(f, "<td>%s</td>", b[0] ? b : "n/a");
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
    fl__mr_esc(f, s ? s : "?");
    fputs("</td>", f);
}

/* The pairing's allocator, with the drift note under it when RSS follows
 * live data there (so a climb is not read as fragmentation). */
static void td_alloc(FILE *f, const struct fl__mr_run *run, bool notes)
{
    char note[160];
    fputs("<td class=\"l alloc\">", f);
    fl__mr_esc(f, run->spec ? run->spec : run->allocator ? run->allocator : "?");
    fl__mr_drift_note(run, note, sizeof(note));
    if (notes && note[0]) {
        fputs("<span class=\"drift\">", f);
        fl__mr_esc(f, note);
        fputs("</span>", f);
    }
    fl__mr_oom_note(run, note, sizeof(note));
    if (notes && note[0]) {
        fputs("<span class=\"drift\">", f);
        fl__mr_esc(f, note);
        fputs("</span>", f);
    }
    fputs("</td>", f);
}

static void td_drift(FILE *f, const struct fl__mr_run *run)
{
    char b[64];
    fl__mr_num(b, sizeof(b), run->live_drift * 100, 0);
    fprintf(f, "<td>%s%s%s%s</td>", b[0] && run->live_drift >= 0 ? "+" : "", b[0] ? b : "n/a",
            b[0] ? " %" : "", fl__mr_drifts(run) ? " &#9888;" : "");
}

static bool run_partial(const struct fl__mr_run *run)
{
    return run->has_csv && !run->has_summary;
}

/* <tr class="KIND[ failed| partial]"> and the mode and allocator cells. */
static void row_start(FILE *f, const struct fl__mr_run *run, const char *kind, bool notes)
{
    bool ok = run->status && !strcmp(run->status, "ok");
    bool partial = run_partial(run);
    fprintf(f, "<tr class=\"%s%s\">", kind,
            !ok && !partial ? " failed"
            : partial       ? " partial"
                            : "");
    td_str(f, run->mode);
    td_alloc(f, run, notes);
}

static void table(FILE *f, const struct fl__mr_report *r)
{
    fputs("<table id=\"matrix\"><thead><tr><th class=\"l\" rowspan=\"2\">mode</th>"
          "<th class=\"l\" rowspan=\"2\">allocator</th><th class=\"l\" rowspan=\"2\">status</th>"
          "<th rowspan=\"2\">req/s</th><th rowspan=\"2\">p99 (us)</th>"
          "<th rowspan=\"2\">live data (MiB)</th><th rowspan=\"2\">live drift</th>"
          "<th colspan=\"3\">overhead (MiB)</th><th colspan=\"3\">RSS (MiB)</th>"
          "<th rowspan=\"2\">returned</th><th rowspan=\"2\">stair-steps</th></tr>"
          "<tr><th>at peak</th><th>steady</th><th>after idle</th>"
          "<th>peak</th><th>steady</th><th>after idle</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        row_start(f, run, "run", true);
        fputs("<td class=\"l\">", f);
        fl__mr_esc(f, run->status ? run->status : "?");
        fputs(run_partial(run) ? " (partial)</td>" : "</td>", f);
        td_num(f, run->rps, 0, "");
        td_num(f, run->p99_us, 0, "");
        td_mib(f, run->live);
        td_drift(f, run);
        td_mib(f, run->over_peak);
        td_mib(f, run->over_steady);
        td_mib(f, run->over_idle);
        td_mib(f, run->rss_peak);
        td_mib(f, run->rss_steady);
        td_mib(f, run->rss_idle);
        td_num(f, run->returned * 100, 1, " %");
        if (run->has_csv)
            fprintf(f, "<td>%d</td>", run->nsteps);
        else
            fputs("<td>n/a</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

/* What the allocator itself says, per pairing: the second table. */
static void detail(FILE *f, const struct fl__mr_report *r)
{
    fputs("<h2>The allocators' own figures</h2>\n"
          "<table id=\"detail\"><thead><tr><th class=\"l\" rowspan=\"2\">mode</th>"
          "<th class=\"l\" rowspan=\"2\">allocator</th><th colspan=\"2\">allocated (MiB)</th>"
          "<th colspan=\"2\">resident (MiB)</th><th rowspan=\"2\">frag at peak</th>"
          "<th rowspan=\"2\">LazyFree after idle (MiB)</th>"
          "<th rowspan=\"2\">cross-thread frees</th></tr>"
          "<tr><th>at peak</th><th>after idle</th><th>at peak</th><th>after idle</th></tr>"
          "</thead><tbody>\n",
          f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        row_start(f, run, "detail", false);
        td_mib(f, run->alloc_peak);
        td_mib(f, run->alloc_idle);
        td_mib(f, run->res_peak);
        td_mib(f, run->res_idle);
        td_num(f, run->frag_peak, 2, "");
        td_mib(f, run->lazy_idle);
        if (!isnan(run->cross_share))
            td_num(f, run->cross_share * 100, 1, " %");
        else
            td_num(f, run->cross_frees, 0, "");
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

/* A ratio cell, greyed when the two pairings do not compare. */
static void td_ratio(FILE *f, double v, bool comparable)
{
    char b[64];
    fl__mr_num(b, sizeof(b), v, 2);
    fprintf(f, "<td%s>%s%s%s%s</td>", comparable ? "" : " class=\"nc\"", comparable ? "" : "(",
            b[0] ? b : "n/a", b[0] ? " &times;" : "", comparable ? "" : ")");
}

static void ratios(FILE *f, const struct fl__mr_report *r)
{
    fputs("<h2>Work-stealing over thread-per-core</h2>\n", f);
    if (!r->nratios) {
        fputs("<p>No allocator ran under both tpc and ws.</p>\n", f);
        return;
    }
    fputs("<table id=\"ratios\"><thead><tr><th class=\"l\">allocator</th><th class=\"l\">ratio"
          "</th><th class=\"l\">comparable</th><th>overhead at peak</th><th>overhead steady</th>"
          "<th>overhead after idle</th><th>RSS peak</th><th>RSS after idle</th></tr></thead>"
          "<tbody>\n",
          f);
    for (int i = 0; i < r->nratios; i++) {
        const struct fl__mr_ratio *x = &r->ratios[i];
        fputs("<tr class=\"ratio\">", f);
        td_str(f, x->allocator);
        fputs("<td class=\"l\">", f);
        fl__mr_esc(f, x->mode);
        fputs("/tpc</td><td class=\"l\">", f);
        if (x->comparable)
            fputs("yes", f);
        else {
            fputs("not comparable: ", f);
            fl__mr_esc(f, x->why);
        }
        fputs("</td>", f);
        double v[] = {x->over_peak, x->over_steady, x->over_idle, x->peak, x->final};
        for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
            td_ratio(f, v[k], x->comparable);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

static void pictures(FILE *f, const struct fl__mr_report *r)
{
    static const char *const pngs[][2] = {
        {"overhead.png", "per pairing, stacked over time: live data (allocated), the allocator's "
                         "overhead inside its heap, RSS outside the heap; allocator-specific "
                         "figures dashed; idle tail shaded"},
        {"rss.png", "RSS over time, one panel per mode; idle tail shaded, stair-steps marked"},
        {"alloc.png", "allocated and resident bytes over time"},
        {"bars.png", "RSS peak, steady and after idle, and throughput, per run"}};
    fputs("<h2>Pictures</h2>\n", f);
    if (r->live && r->running) {
        fputs("<p>The pictures are drawn when the matrix ends; the charts above are live.</p>\n",
              f);
        return;
    }
    if (!r->plots && !r->live) {
        fputs("<p>No plots this time (<code>--no-plots</code>, or gnuplot missing or failed: "
              "see <code>plots.log</code>).</p>\n",
              f);
        return;
    }
    int shown = 0;
    for (size_t i = 0; i < sizeof(pngs) / sizeof(pngs[0]); i++) {
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", r->dir, pngs[i][0]);
        if (stat(path, &st) == 0 && st.st_size > 0 && ++shown)
            fprintf(f, "<figure><img src=\"%s\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n",
                    pngs[i][0], pngs[i][1], pngs[i][1]);
    }
    if (!shown && r->live)
        fputs("<p>No pictures yet: <code>fraglab-loadgen report DIR</code> draws them.</p>\n", f);
}

static void steps(FILE *f, const struct fl__mr_report *r)
{
    fputs("<h2>Stair-steps</h2>\n<p>", f);
    fl__mr_esc(f, fl__mr_step_rule);
    fputs("</p>\n<ul id=\"steps\">\n", f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (!run->nsteps)
            continue;
        fputs("<li>", f);
        fl__mr_esc(f, run->name);
        fprintf(f, ": %d step%s:", run->nsteps, run->nsteps == 1 ? "" : "s");
        for (int s = 0; s < run->nsteps && s < FL__MR_MAX_STEPS; s++) {
            char a[32], b[32];
            fl__mr_fmt_bytes(a, sizeof(a), run->steps[s].from);
            fl__mr_fmt_bytes(b, sizeof(b), run->steps[s].to);
            fprintf(f, "%s at %.1f s (%s &rarr; %s)", s ? ";" : "", run->steps[s].t_s, a, b);
        }
        char note[160];
        fl__mr_drift_note(run, note, sizeof(note));
        if (note[0]) {
            fputs(" <span class=\"drift\">&mdash; not fragmentation alone: ", f);
            fl__mr_esc(f, note);
            fputs("</span>", f);
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
        fl__mr_esc(f, run->name);
        fputs("</b> (", f);
        fl__mr_esc(f, run->status ? run->status : "?");
        fputs("): ", f);
        fl__mr_esc(f, run->error ? run->error : "no error recorded");
        fputs("</li>\n", f);
    }
    if (any)
        fputs("</ul>\n", f);
}

static void kv(FILE *f, const char *k, const cJSON *v)
{
    fputs("<tr><th class=\"l\">", f);
    fl__mr_esc(f, k);
    fputs("</th><td class=\"l\">", f);
    if (cJSON_IsString(v)) {
        fl__mr_esc(f, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        const cJSON *it;
        fputs("<code>", f);
        cJSON_ArrayForEach(it, v)
        {
            fl__mr_esc(f, cJSON_IsString(it) ? it->valuestring : "?");
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
        fl__mr_esc(f, run->name);
        fputs("</th><td class=\"l\">", f);
        fl__mr_esc(f, run->alloc_name);
        fputc(' ', f);
        fl__mr_esc(f, run->alloc_version ? run->alloc_version : "");
        fputs(" (spec <code>", f);
        fl__mr_esc(f, run->spec);
        fputs("</code>)</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static const char how_to_read[] =
    "<h2>How to read this</h2>\n<p>Each row is one server run under one runtime mode and "
    "allocator, driven by the same seeded scenario and then left idle (no connections) for "
    "the idle tail. <b>Live data</b> is what the allocator counts as allocated (median over "
    "the second half of the load); <b>overhead</b> is RSS minus that live data: what the "
    "allocator and the process hold beyond what the program uses, at the RSS peak under load, "
    "<b>steady</b> (median over the second half of the load, warm-up and the last load row "
    "left out, as <code>matrix-check.py</code> takes it) and <b>after idle</b> (the last "
    "idle-tail sample). <b>RSS peak</b> is the largest resident set seen, <b>returned</b> the "
    "share of it given back after idle. <b>Live drift</b> is how much live data moved over the "
    "second half of the load (least-squares slope as a share of its mean); past 5 % the row "
    "says RSS follows live data there, so a climb or a stair-step is the program holding more, "
    "not the allocator fragmenting. A ws/tpc ratio compares like with like only when both "
    "runs carried the same load (throughput within 2 %) with about the same live data (within "
    "10 %); otherwise it is greyed and the reason given. <b>frag</b> = (resident - allocated) "
    "/ allocated at the RSS peak under load, as the server reports it (glibc gives no resident "
    "figure: anonymous RSS stands for it). In <code>overhead.png</code> each pairing's RSS is "
    "split into live data, the allocator's overhead inside its heap (heap = resident bytes for "
    "jemalloc and tcmalloc, mapped bytes for glibc and mimalloc, else anonymous RSS) and RSS "
    "outside the heap (rings, stacks, binaries). LazyFree is memory given back with MADV_FREE "
    "that the kernel has not yet reclaimed. Yellow rows are partial (still running), red ones "
    "failed.</p>\n";

/* What the live page is, under its title. */
static void live_note(FILE *f, const struct fl__mr_report *r)
{
    int with = 0;
    for (int i = 0; i < r->n; i++)
        with += r->runs[i].has_csv;
    char at[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
    fprintf(f,
            "<p class=\"live\" id=\"live\">Live: written at %s from what is on disk, %d of %d "
            "pairing%s with samples so far; this page reloads itself every %d s (zoom and hidden "
            "series are kept) and stops when the matrix ends.</p>\n",
            at, with, r->n, r->n == 1 ? "" : "s", FL__MR_LIVE_REFRESH_S);
}

static void page(FILE *f, const struct fl__mr_report *r)
{
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(r->runs_json, "scenario");
    const char *name = cJSON_IsString(sc) ? sc->valuestring : "?";
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">", f);
    if (r->live && r->running)
        fprintf(f, "<meta http-equiv=\"refresh\" content=\"%d\">", FL__MR_LIVE_REFRESH_S);
    fputs("<title>fraglab matrix: ", f);
    fl__mr_esc(f, name);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>fraglab matrix: ", css);
    fl__mr_esc(f, name);
    fputs("</h1>\n", f);
    if (r->live && r->running)
        live_note(f, r);
    table(f, r);
    if (r->verdict)
        fl__mv_html(f, r->verdict);
    fl__mr_write_charts(f, r);
    detail(f, r);
    ratios(f, r);
    pictures(f, r);
    steps(f, r);
    failures(f, r);
    manifest(f, r);
    fputs(how_to_read, f);
    fputs("</body></html>\n", f);
}

int fl__mr_write_html(const struct fl__mr_report *r, char *err, size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/index.html", r->dir);
    snprintf(tmp, sizeof(tmp), "%s/.index.html.XXXXXX", r->dir);
    /* A name of its own (mkstemp), so `report DIR` run by hand while the
     * matrix writes its live page cannot interleave with it. */
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        snprintf(err, errlen, "%s: %s", tmp, strerror(e));
        return -e;
    }
    fchmod(fd, 0644); /* mkstemp's 0600 would hide the page from a web server */
    page(f, r);
    bool bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        unlink(tmp);
        snprintf(err, errlen, "%s: write failed", tmp);
        return -EIO;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

/* matrix_report_charts.c - the page's interactive charts: RSS, live data,
 * allocator overhead, throughput and p99 with one series per pairing, and
 * the ws/tpc ratios of RSS and overhead per allocator, over elapsed time.
 * The browser draws them with Debian's libjs-dygraphs, whose script and CSS
 * are read at report time and inlined, so the page works from file:// with
 * nothing beside it; the repository holds no copy. Without the package the
 * page says so in one line and keeps its tables and pictures.
 *
 * The data is bounded whatever the run's length: every series shares one
 * time grid of at most FL__MR_CHART_POINTS buckets (fl__mr_bucket_width),
 * each bucket holding the largest value of its rows (throughput: their
 * mean), so a spike of one sample survives any zoom level and the page
 * grows with the grid, not with the samples. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_report_internal.h"

#define MIB (1024.0 * 1024.0)

double fl__mr_bucket_width(double t_end, double interval, size_t max_points)
{
    double w = interval > 0 ? interval : 1;
    if (max_points > 1 && t_end / w + 1 > (double)max_points)
        w = t_end / (double)(max_points - 1);
    return w;
}

size_t fl__mr_buckets(double t_end, double w)
{
    return t_end > 0 ? (size_t)llround(t_end / w) + 1 : 1;
}

int fl__mr_downsample(const double *t, const double *v, size_t n, double w, enum fl__mr_fold fold,
                      double *out, size_t nb)
{
    unsigned *count = fold == FL__MR_FOLD_MEAN ? calloc(nb, sizeof(*count)) : NULL;
    if (fold == FL__MR_FOLD_MEAN && !count)
        return -ENOMEM;
    for (size_t k = 0; k < nb; k++)
        out[k] = NAN;
    for (size_t i = 0; i < n; i++) {
        if (isnan(t[i]) || isnan(v[i]))
            continue;
        double b = round(t[i] / w);
        size_t k = b <= 0 ? 0 : b >= (double)(nb - 1) ? nb - 1 : (size_t)b;
        if (fold == FL__MR_FOLD_MAX) {
            if (isnan(out[k]) || v[i] > out[k])
                out[k] = v[i];
        } else {
            /* A running mean: no sum to overflow or lose precision. */
            count[k]++;
            out[k] = isnan(out[k]) ? v[i] : out[k] + (v[i] - out[k]) / count[k];
        }
    }
    free(count);
    return 0;
}

/* What the charts of pairings draw, per row of a run's kept columns. */
enum metric { M_RSS, M_LIVE, M_OVER, M_RPS, M_P99, NMETRICS };

static const struct {
    const char *id, *title, *unit;
    enum fl__mr_fold fold;
    int prec;
} metrics[NMETRICS] = {
    [M_RSS] = {"rss", "RSS", "MiB", FL__MR_FOLD_MAX, 1},
    [M_LIVE] = {"live", "Live data (allocated)", "MiB", FL__MR_FOLD_MAX, 1},
    [M_OVER] = {"overhead", "Allocator overhead (RSS - allocated)", "MiB", FL__MR_FOLD_MAX, 1},
    [M_RPS] = {"rps", "Throughput (mean of each bucket)", "req/s", FL__MR_FOLD_MEAN, 0},
    [M_P99] = {"p99", "p99 latency", "ms", FL__MR_FOLD_MAX, 2},
};

/* The charts' data: per metric, per charted run, nb buckets. */
struct grid {
    double w;
    size_t nb;
    int nruns;                      /* runs with rows */
    const struct fl__mr_run **runs; /* [nruns] */
    double *v[NMETRICS];            /* [nruns * nb] */
    double idle;                    /* where the first idle tail starts; NAN: none */
};

/* Run `run`'s rows of metric m in its unit, into tmp (nkeep values). */
static const double *metric_rows(const struct fl__mr_run *run, enum metric m, double *tmp)
{
    const double *rss = run->keep[FL__MR_K_rss_bytes], *al = run->keep[FL__MR_K_allocated_bytes];
    static const int col[NMETRICS] = {[M_RSS] = FL__MR_K_rss_bytes,
                                      [M_LIVE] = FL__MR_K_allocated_bytes,
                                      [M_RPS] = FL__MR_K_rps,
                                      [M_P99] = FL__MR_K_p99_us};
    for (size_t i = 0; i < run->nkeep; i++)
        switch (m) {
        case M_OVER:
            tmp[i] = (rss[i] - al[i]) / MIB;
            break;
        case M_RSS:
        case M_LIVE:
            tmp[i] = run->keep[col[m]][i] / MIB;
            break;
        case M_P99:
            tmp[i] = run->keep[col[m]][i] / 1000;
            break;
        default:
            tmp[i] = run->keep[col[m]][i];
        }
    return tmp;
}

/* The grid's width: the matrix's sampling interval (runs.json), else the
 * densest run's mean spacing, widened to FL__MR_CHART_POINTS buckets. */
static void grid_size(struct grid *g, const struct fl__mr_report *r)
{
    double t_end = 0, interval = NAN;
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(r->runs_json, "interval_s");
    for (int i = 0; i < g->nruns; i++) {
        const struct fl__mr_run *run = g->runs[i];
        t_end = run->t_end > t_end ? run->t_end : t_end;
        double spacing = run->t_end / (double)run->nkeep;
        if (spacing > 0 && !(spacing >= interval))
            interval = spacing;
        if (!isnan(run->idle_start) && !(run->idle_start >= g->idle))
            g->idle = run->idle_start;
    }
    if (cJSON_IsNumber(iv) && iv->valuedouble > 0)
        interval = iv->valuedouble;
    g->w = fl__mr_bucket_width(t_end, interval, FL__MR_CHART_POINTS);
    g->nb = fl__mr_buckets(t_end, g->w);
}

static void grid_free(struct grid *g)
{
    free(g->runs);
    for (int m = 0; m < NMETRICS; m++)
        free(g->v[m]);
}

/* Every run with rows, folded onto one grid; -ENOMEM. */
static int grid_fill(struct grid *g, const struct fl__mr_report *r)
{
    *g = (struct grid){.idle = NAN};
    g->runs = calloc((size_t)r->n + 1, sizeof(*g->runs));
    size_t most = 0;
    for (int i = 0; g->runs && i < r->n; i++)
        if (r->runs[i].nkeep) {
            g->runs[g->nruns++] = &r->runs[i];
            most = r->runs[i].nkeep > most ? r->runs[i].nkeep : most;
        }
    if (!g->runs)
        return -ENOMEM;
    if (!g->nruns)
        return 0;
    grid_size(g, r);
    double *tmp = malloc(most * sizeof(double));
    int rc = tmp ? 0 : -ENOMEM;
    for (int m = 0; rc == 0 && m < NMETRICS; m++) {
        g->v[m] = malloc((size_t)g->nruns * g->nb * sizeof(double));
        for (int i = 0; g->v[m] && rc == 0 && i < g->nruns; i++)
            rc = fl__mr_downsample(g->runs[i]->keep[FL__MR_K_t_s], metric_rows(g->runs[i], m, tmp),
                                   g->runs[i]->nkeep, g->w, metrics[m].fold,
                                   g->v[m] + (size_t)i * g->nb, g->nb);
        if (!g->v[m])
            rc = -ENOMEM;
    }
    free(tmp);
    return rc;
}

/* A JavaScript string inside <script>: no '<' or '>' that could close it. */
static void js_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&')
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void js_num(FILE *f, double v, int digits)
{
    if (isnan(v) || isinf(v))
        fputs("null", f);
    else
        fprintf(f, "%.*g", digits, v);
}

/* One chart: its heading, toggles and box, and its data for the driver.
 * v[s * nb + k] is series s in bucket k; rows where every series is empty
 * are left out. False (nothing written) when there is no value at all. */
/* What a chart is: its id, title, unit, decimals and whether its y axis
 * starts at zero (memory does; a ratio around 1 would be flattened). */
struct spec {
    const char *id, *title, *unit;
    int prec;
    bool zero;
};

static bool chart(FILE *f, const struct grid *g, const struct spec *c, const char *const *names,
                  const double *v, int ns)
{
    size_t rows = 0;
    for (size_t i = 0; i < (size_t)ns * g->nb; i++)
        rows += !isnan(v[i]);
    if (!rows)
        return false;
    fprintf(f,
            "<h3>%s (%s)</h3><div class=\"toggles\" id=\"toggles-%s\"></div>"
            "<div class=\"chart\" id=\"chart-%s\"></div>\n<script>FL_CHARTS.push({id:",
            c->title, c->unit, c->id, c->id);
    js_str(f, c->id);
    fputs(",unit:", f);
    js_str(f, c->unit);
    fprintf(f, ",prec:%d,zero:%s,idle:", c->prec, c->zero ? "true" : "false");
    js_num(f, g->idle, 7);
    fputs(",labels:[\"elapsed\"", f);
    for (int s = 0; s < ns; s++) {
        fputc(',', f);
        js_str(f, names[s]);
    }
    fputs("],rows:[", f);
    bool first = true;
    for (size_t k = 0; k < g->nb; k++) {
        bool any = false;
        for (int s = 0; s < ns; s++)
            any = any || !isnan(v[(size_t)s * g->nb + k]);
        if (!any)
            continue;
        fprintf(f, "%s[%.7g", first ? "" : ",\n", (double)k * g->w);
        first = false;
        for (int s = 0; s < ns; s++) {
            fputc(',', f);
            js_num(f, v[(size_t)s * g->nb + k], 6);
        }
        fputc(']', f);
    }
    fputs("]});</script>\n", f);
    return true;
}

/* One per ratio of the report: RSS and overhead of mode over tpc, bucket by
 * bucket, the overhead's denominator at least a byte (as the table's). */
static void ratio_chart(FILE *f, const struct grid *g, const struct fl__mr_report *r)
{
    int ns = 0;
    char(*names)[160] = calloc((size_t)r->nratios * 2 + 1, sizeof(*names));
    const char **np = calloc((size_t)r->nratios * 2 + 1, sizeof(*np));
    double *v = malloc(((size_t)r->nratios * 2 + 1) * g->nb * sizeof(double));
    for (int x = 0; names && np && v && x < r->nratios; x++) {
        const struct fl__mr_ratio *q = &r->ratios[x];
        int o = -1, t = -1;
        for (int i = 0; i < g->nruns; i++) {
            o = g->runs[i] == q->o ? i : o;
            t = g->runs[i] == q->t ? i : t;
        }
        if (o < 0 || t < 0)
            continue;
        for (int what = 0; what < 2; what++, ns++) {
            const double *a = g->v[what ? M_OVER : M_RSS] + (size_t)o * g->nb;
            const double *b = g->v[what ? M_OVER : M_RSS] + (size_t)t * g->nb;
            snprintf(names[ns], sizeof(names[ns]), "%s %s/tpc %s", q->allocator, q->mode,
                     what ? "overhead" : "RSS");
            np[ns] = names[ns];
            for (size_t k = 0; k < g->nb; k++) {
                double den = what && b[k] < 1 / MIB ? 1 / MIB : b[k];
                v[(size_t)ns * g->nb + k] = den > 0 ? a[k] / den : NAN;
            }
        }
    }
    static const struct spec spec = {"ratios", "ws/tpc ratios", "\u00d7", 2, false};
    if (!ns || !chart(f, g, &spec, np, v, ns))
        fputs("<p>No ws/tpc ratio over time yet: it needs an allocator with rows under tpc and "
              "ws.</p>\n",
              f);
    free(names);
    free(np);
    free(v);
}

/* The file of libjs-dygraphs called `name`, NUL-terminated, its source-map
 * comment cut (there is no map beside the page); NULL with one line in
 * `why` when it is missing or holds `closing`, which would end the inline
 * element early. */
static char *lib_file(const char *name, const char *closing, char *why, size_t n)
{
    const char *dir = getenv("FRAGLAB_DYGRAPHS_DIR");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : FL__MR_DYGRAPHS_DIR, name);
    char *text = fl__mr_slurp(path);
    if (!text) {
        snprintf(why, n, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (char *p = text; *p; p++)
        if (p[0] == '<' && p[1] == '/' && !strncasecmp(p + 2, closing, strlen(closing))) {
            snprintf(why, n, "%s holds </%s and cannot be inlined", path, closing);
            free(text);
            return NULL;
        }
    char *map = strstr(text, "# sourceMappingURL=");
    if (map && map - text >= 2 && (!strncmp(map - 2, "//", 2) || !strncmp(map - 2, "/*", 2)))
        map[-2] = '\0';
    return text;
}

/* The driver, after the data: draws each chart, and keeps zoom (shared by
 * every chart) and hidden series in sessionStorage across the live page's
 * reloads. The x axis is elapsed time, h:mm:ss, ticked at round times. */
static const char driver[] =
    "(function(){var D=window.Dygraph,all=[],busy=false,key='fraglab:'+location.pathname,st={};\n"
    "try{st=JSON.parse(sessionStorage.getItem(key)||'{}')||{};}catch(e){st={};}\n"
    "function save(){try{sessionStorage.setItem(key,JSON.stringify(st));}catch(e){}}\n"
    "function two(n){return(n<10?'0':'')+n;}\n"
    "function hms(s){var t=Math.round(Math.abs(s)*10),h=Math.floor(t/36000),"
    "m=Math.floor(t%36000/600),x=t%600/10,sec=(x<10?'0':'')+x.toFixed(t%10?1:0);\n"
    "return(s<0?'-':'')+(h?h+':'+two(m):m)+':'+sec;}\n"
    "var steps=[0.1,0.2,0.5,1,2,5,10,15,30,60,120,300,600,900,1800,3600,7200,14400,28800,"
    "86400];\n"
    "function ticker(a,b,px){var want=(b-a)/Math.max(1,px/90),s=steps[steps.length-1],out=[];\n"
    "for(var i=0;i<steps.length;i++)if(steps[i]>=want){s=steps[i];break;}\n"
    "for(var k=Math.ceil(a/s);k*s<=b&&out.length<200;k++)out.push({v:k*s,label:hms(k*s)});\n"
    "return out;}\n"
    "function zoomed(g){if(busy)return;busy=true;var w=g.isZoomed('x')?g.xAxisRange():null;\n"
    "st.win=w;save();all.forEach(function(o){if(o!==g)o.updateOptions({dateWindow:w});});\n"
    "busy=false;}\n"
    "function shade(c){return function(cv,area,g){if(c.idle===null)return;\n"
    "var x=Math.max(g.toDomXCoord(c.idle),area.x),r=area.x+area.w;\n"
    "if(x<r){cv.fillStyle='rgba(0,0,0,0.07)';cv.fillRect(x,area.y,r-x,area.h);}};}\n"
    "function draw(c){var div=document.getElementById('chart-'+c.id),"
    "box=document.getElementById('toggles-'+c.id),\n"
    "hid=(st.hidden&&st.hidden[c.id])||[],vis=[],g;\n"
    "for(var i=1;i<c.labels.length;i++)vis.push(!hid[i-1]);\n"
    "g=new D(div,c.rows,{labels:c.labels,ylabel:c.unit,xlabel:'elapsed (h:mm:ss)',"
    "legend:'follow',labelsSeparateLines:true,connectSeparatedPoints:true,includeZero:c.zero,\n"
    "visibility:vis,dateWindow:st.win||null,underlayCallback:shade(c),"
    "zoomCallback:function(){zoomed(g);},\n"
    "axes:{x:{valueFormatter:hms,axisLabelFormatter:hms,ticker:ticker},"
    "y:{axisLabelWidth:60,valueFormatter:function(v){return v.toFixed(c.prec)+' '+c.unit;}}}});\n"
    "vis.forEach(function(on,i){var l=document.createElement('label'),"
    "b=document.createElement('input');\n"
    "b.type='checkbox';b.checked=on;b.onchange=function(){g.setVisibility(i,b.checked);\n"
    "st.hidden=st.hidden||{};(st.hidden[c.id]=st.hidden[c.id]||[])[i]=!b.checked;save();};\n"
    "l.appendChild(b);l.appendChild(document.createTextNode(' '+c.labels[i+1]));"
    "box.appendChild(l);});\n"
    "all.push(g);}\n"
    "if(D)FL_CHARTS.forEach(draw);\n"
    "document.getElementById('charts').setAttribute('data-drawn',all.length);})();\n";

/* What the charts show and how to use them. */
static void intro(FILE *f, const struct grid *g)
{
    fprintf(f,
            "<p>Drag across a chart to zoom (every chart follows), double-click to zoom out, "
            "hover for values, untick a series to hide it; the idle tail is shaded. Each point "
            "is one bucket of %.3g s: the largest value of its samples (throughput: their "
            "mean), so a one-sample spike shows at any zoom; at most %d points per series.</p>\n"
            "<p class=\"drift\" id=\"chart-errors\"></p>\n"
            "<script>var FL_CHARTS=[];window.addEventListener('error',function(e){"
            "var p=document.getElementById('chart-errors');"
            "if(p)p.textContent+='chart error: '+e.message+' ';});</script>\n",
            g->w, FL__MR_CHART_POINTS);
}

void fl__mr_write_charts(FILE *f, const struct fl__mr_report *r)
{
    char why[PATH_MAX + 64];
    fputs("<h2>Over time</h2>\n<div id=\"charts\">\n", f);
    char *css = lib_file("dygraph.min.css", "style", why, sizeof(why));
    char *js = css ? lib_file("dygraph.min.js", "script", why, sizeof(why)) : NULL;
    struct grid g;
    int rc = js ? grid_fill(&g, r) : 0;
    if (!js) {
        fputs("<p class=\"nocharts\">Interactive charts need Debian's libjs-dygraphs (", f);
        fl__mr_esc(f, why);
        fputs("); the tables and pictures are all there is.</p>\n", f);
    } else if (rc) {
        fputs("<p class=\"nocharts\">No charts: out of memory.</p>\n", f);
    } else if (!g.nruns) {
        fputs("<p>No samples yet.</p>\n", f);
    } else {
        intro(f, &g);
        fprintf(f, "<style>%s</style>\n<script>%s</script>\n", css, js);
        const char **names = calloc((size_t)g.nruns, sizeof(*names));
        for (int i = 0; names && i < g.nruns; i++)
            names[i] = g.runs[i]->name ? g.runs[i]->name : "?";
        for (int m = 0; names && m < NMETRICS; m++) {
            struct spec spec = {metrics[m].id, metrics[m].title, metrics[m].unit, metrics[m].prec,
                                true};
            if (!chart(f, &g, &spec, names, g.v[m], g.nruns))
                fprintf(f, "<p>%s: no samples give it yet.</p>\n", metrics[m].title);
            if (m == M_OVER)
                ratio_chart(f, &g, r);
        }
        free(names);
        fprintf(f, "<script>%s</script>\n", driver);
    }
    if (js)
        grid_free(&g);
    free(css);
    free(js);
    fputs("</div>\n", f);
}

/* fromlog_mix.c - what a log's requests are, in the scenario fromlog_write.c
 * writes: populations from the connections' request counts, the kinds
 * (static, api, upload) as `work` requests, the only kind whose answer size
 * a scenario sets (`get` answers a fixed path, `echo` sends back its body),
 * weighted by their counts, answers as `hist:` of $body_bytes_sent, upload
 * bodies from $request_length; each choice as a comment. */
#include "fromlog_internal.h"
#include "scenario.h"

#include <inttypes.h>

/* Writes `key = hist:...` of counts[] over edges[] (unit `u`), from the
 * bucket before the first filled one (weight 0, so the draws start above
 * its edge) to the last filled one; weights scaled down to at most
 * FL_DIST_MAX_WEIGHT, a filled bucket keeping at least 1. */
void fl__fl_put_hist(FILE *f, const char *key, const uint64_t *edges, const uint64_t *counts,
                     unsigned n, enum fl_dist_unit u)
{
    unsigned first = n, last = 0;
    uint64_t max = 0;
    for (unsigned i = 0; i < n; i++) {
        if (counts[i] && first == n)
            first = i;
        if (counts[i])
            last = i;
        max = counts[i] > max ? counts[i] : max;
    }
    uint64_t div = max / FL_DIST_MAX_WEIGHT + 1;
    unsigned start = first ? first - 1 : 0;
    fprintf(f, "%s = hist:", key);
    for (unsigned i = start; i <= last; i++) {
        char e[32];
        fl_dist_format_value(u, edges[i], e, sizeof(e));
        uint64_t w = counts[i] ? (counts[i] / div ? counts[i] / div : 1) : 0;
        fprintf(f, "%s%s:%" PRIu64, i > start ? "," : "", e, w);
    }
    fputc('\n', f);
}

double fl__fl_pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0;
}

static const char *const kind_names[FL__FL_NKINDS] = {"static", "api", "upload"};
static const char *const kind_rules[FL__FL_NKINDS] = {
    "GET or HEAD of a file (a static extension such as .css .js .png .html,\n"
    "# or under /static/ /assets/ /images/ /img/ /css/ /js/ /fonts/ /media/)",
    "every other GET, HEAD, DELETE, OPTIONS, ... (not a file, no body)",
    "POST, PUT and PATCH: a request body the server reads",
};

/* Connections with 1 request, 2-10 and more: their share is of the
 * requests, since in an open loop every connection slot sends at the same
 * rate, so a population carrying a third of the requests needs a third of
 * the slots. */
static void put_populations(FILE *f, const struct fl_fromlog *c)
{
    static const struct {
        const char *name, *what;
        unsigned lo, hi; /* buckets of fl__fl_count_edges */
    } groups[] = {{"single", "one request, then close (no keep-alive reuse)", 0, 0},
                  {"short", "2 to 10 requests", 1, 3},
                  {"long", "more than 10 requests (pooled, keep-alive)", 4, FL__FL_NCOUNT - 1}};
    fprintf(f, "\n# --- populations\n");
    if (!c->conn_done) {
        fprintf(f, "# ASSUMED: the log has no $connection, so requests per connection are\n"
                   "# unknown: most connections short, a few long (log-uniform 1-100).\n"
                   "[population clients]\nshare = 1\nrequests = log:1-100\n");
        return;
    }
    uint64_t reqs = 0;
    for (unsigned i = 0; i < FL__FL_NCOUNT; i++)
        reqs += c->creq_reqs[i];
    fprintf(f,
            "# %" PRIu64 " connections in the log (%" PRIu64 " of them pushed out of the\n"
            "# tracker while perhaps still open, counted as ended). Grouped by their\n"
            "# requests; each group's share is its share of the requests (in an open\n"
            "# loop every connection slot sends at the same rate).\n",
            c->conn_done, c->conn_cut);
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        uint64_t n = 0, r = 0, counts[FL__FL_NCOUNT] = {0};
        for (unsigned i = groups[g].lo; i <= groups[g].hi; i++) {
            n += c->creq_conns[i];
            r += c->creq_reqs[i];
            counts[i] = c->creq_conns[i];
        }
        if (!n)
            continue;
        fprintf(f, "\n# %s: %" PRIu64 " connections (%.1f %%), %.1f %% of the requests\n",
                groups[g].what, n, fl__fl_pct(n, c->conn_done), fl__fl_pct(r, reqs));
        fprintf(f, "[population %s]\nshare = %.6g\n", groups[g].name, (double)r / reqs);
        if (groups[g].hi == 0)
            fprintf(f, "requests = 1\n");
        else
            fl__fl_put_hist(f, "requests", fl__fl_count_edges, counts, FL__FL_NCOUNT,
                            FL_DIST_COUNT);
    }
}

static void put_lifetimes(FILE *f, const struct fl_fromlog *c)
{
    if (!c->conn_done)
        return;
    uint64_t edges[FL__FL_NLIFE];
    for (unsigned i = 0; i < FL__FL_NLIFE; i++)
        edges[i] = fl__fl_life_edges_ms[i] * UINT64_C(1000000);
    fprintf(f, "\n# Connection lifetimes in the log, for reference (not a key: in an open\n"
               "# loop a connection lives its requests x connections / rate, and the\n"
               "# lifetimes set `connections` above):\n# ");
    fl__fl_put_hist(f, "lifetime", edges, c->life, FL__FL_NLIFE, FL_DIST_TIME);
}

/* The body of uploads: $request_length less the headers, taken as the
 * mean $request_length of the requests without a body. */
static void put_upload_body(FILE *f, const struct fl_fromlog *c)
{
    const struct fl__fl_kind_agg *u = &c->kinds[FL__FL_UPLOAD];
    uint64_t hn = c->kinds[FL__FL_STATIC].len_n + c->kinds[FL__FL_API].len_n;
    if (!u->len_n) {
        fprintf(f, "# ASSUMED body (the log has no $request_length): log-uniform 256-16k.\n"
                   "body = log:256-16k\n");
        return;
    }
    uint64_t head = hn ? (c->kinds[FL__FL_STATIC].len_sum + c->kinds[FL__FL_API].len_sum) / hn : 0,
             edges[FL__FL_NSIZE], counts[FL__FL_NSIZE] = {0};
    unsigned m = 1;
    edges[0] = 0;
    for (unsigned i = 0; i < FL__FL_NSIZE; i++) {
        if (fl__fl_size_edges[i] <= head) {
            counts[0] += u->len[i];
            continue;
        }
        edges[m] = fl__fl_size_edges[i] - head;
        counts[m++] = u->len[i];
    }
    fprintf(f,
            "# body: $request_length less %" PRIu64 " bytes of request line and headers\n"
            "# (the mean $request_length of the requests without a body)%s.\n",
            head, hn ? "" : "; none had one, so 0");
    fl__fl_put_hist(f, "body", edges, counts, m, FL_DIST_BYTES);
}

static void put_requests(FILE *f, const struct fl_fromlog *c)
{
    fprintf(f, "\n# --- requests: the log's kinds as `work` requests (the kind whose answer\n"
               "# size a scenario sets), weighted by their counts; answers as hist: of\n"
               "# $body_bytes_sent in steps of 4 up to 1m, the server's work_max_resp.\n");
    for (int k = 0; k < FL__FL_NKINDS; k++) {
        const struct fl__fl_kind_agg *a = &c->kinds[k];
        if (!a->n)
            continue;
        fprintf(f,
                "\n# %s: %s.\n# %" PRIu64
                " requests (%.1f %%); %.1f %% answered other than 2xx (here\n"
                "# every answer is 200)",
                kind_names[k], kind_rules[k], a->n, fl__fl_pct(a->n, c->requests),
                fl__fl_pct(a->not_2xx, a->n));
        if (a->resp_over)
            fprintf(f, "; %" PRIu64 " answers above 1m sent as 1m", a->resp_over);
        uint64_t div = c->requests / FL_DIST_MAX_WEIGHT + 1; /* weights stay <= 1e9 */
        fprintf(f, ".\n[request %s]\nweight = %" PRIu64 "\nkind = work\n", kind_names[k],
                a->n / div ? a->n / div : 1);
        fl__fl_put_hist(f, "resp", fl__fl_size_edges, a->resp, FL__FL_NSIZE, FL_DIST_BYTES);
        if (k == FL__FL_API)
            fprintf(f, "# ASSUMED (the log does not show allocations): a JSON-like parse's\n"
                       "# temporaries, as config/quick.ini's work-small.\n"
                       "burst = 0-50\nburst_min = 16\nburst_max = 64-512\n");
        if (k == FL__FL_UPLOAD) {
            fprintf(f, "method = POST\n");
            put_upload_body(f, c);
        }
    }
}

void fl__fl_put_mix(FILE *f, const struct fl_fromlog *c)
{
    put_populations(f, c);
    put_lifetimes(f, c);
    put_requests(f, c);
}

/* scenario_check.c - what the grammar alone cannot refuse: each section is
 * checked when it ends (its required keys, keys of another request kind,
 * combinations the server would refuse), the file when it has been read
 * (phases against the duration, warm-up, shares and weights). Each error
 * names the line of the key at fault, or of the section's header when a
 * key is missing. */
#include "scenario_internal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* --- checks when a section ends ------------------------------------------ */

static char *fmt_dist(const struct fl_dist *d, char *buf, size_t len)
{
    fl_dist_format(d, buf, len);
    return buf;
}

static char *fmt_time(uint64_t ns, char *buf, size_t len)
{
    fl_dist_format_value(FL_DIST_TIME, ns, buf, len);
    return buf;
}

static bool check_scenario(struct fl__loader *ld)
{
    const struct fl_scenario *s = ld->s;
    if (s->threads > s->connections)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "threads"),
                                 "threads %" PRIu32 ": more than connections %" PRIu32, s->threads,
                                 s->connections);
    return true;
}

static bool check_phase(struct fl__loader *ld)
{
    struct fl_scenario_phase *ph = ld->cur;
    char a[32];
    if (ph->connections > ld->s->connections)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "connections"),
                                 "connections %" PRIu32 ": more than the scenario's %" PRIu32,
                                 ph->connections, ld->s->connections);
    if (ph->idle && fl__scenario_line_of(ld, "rate"))
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "rate"),
                                 "rate: an idle phase sends no requests");
    if (ph->close_idle && !ph->idle)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "close_idle"),
                                 "close_idle = true needs idle = true");
    if (ph->idle)
        ph->rate = 0; /* not the inherited rate: none is sent */
    ld->phases_total += ph->duration;
    if (ld->phases_total > FL_DIST_MAX_TIME)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "duration"),
                                 "duration %s: the phases add up to more than 30 days",
                                 fmt_time(ph->duration, a, sizeof(a)));
    return true;
}

static bool check_population(struct fl__loader *ld)
{
    const struct fl_scenario_population *po = ld->cur;
    char a[FL_SCENARIO_STR_MAX];
    if (po->requests.set && fl_dist_lowest(&po->requests) == 0)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "requests"),
                                 "requests %s: a connection makes at least 1",
                                 fmt_dist(&po->requests, a, sizeof(a)));
    if (po->lifetime.set && fl_dist_lowest(&po->lifetime) == 0)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "lifetime"),
                                 "lifetime %s: must be above 0",
                                 fmt_dist(&po->lifetime, a, sizeof(a)));
    return true;
}

/* The server refuses these (400) or ignores them: say so now. */
static bool check_work(struct fl__loader *ld)
{
    const struct fl_scenario_request *r = ld->cur;
    char a[FL_SCENARIO_STR_MAX], b[FL_SCENARIO_STR_MAX];
    int lmin = fl__scenario_line_of(ld, "burst_min"), lmax = fl__scenario_line_of(ld, "burst_max");
    if ((lmin || lmax) && !r->burst.set)
        return fl__scenario_fail(ld, lmin ? lmin : lmax, "%s without burst",
                                 lmin ? "burst_min" : "burst_max");
    if (!lmin != !lmax)
        return fl__scenario_fail(ld, lmin ? lmin : lmax, "%s without %s: give both",
                                 lmin ? "burst_min" : "burst_max",
                                 lmin ? "burst_max" : "burst_min");
    if (lmin && fl_dist_lowest(&r->burst_min) == 0)
        return fl__scenario_fail(ld, lmin, "burst_min %s: burst allocations need at least 1 byte",
                                 fmt_dist(&r->burst_min, a, sizeof(a)));
    if (lmin && fl_dist_highest(&r->burst_min) > fl_dist_lowest(&r->burst_max))
        return fl__scenario_fail(ld, lmin, "burst_min %s can exceed burst_max %s",
                                 fmt_dist(&r->burst_min, a, sizeof(a)),
                                 fmt_dist(&r->burst_max, b, sizeof(b)));
    if (fl__scenario_line_of(ld, "hold_for") && !r->hold.set)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "hold_for"), "hold_for without hold");
    if (r->body.set && !r->post)
        return fl__scenario_fail(ld, fl__scenario_line_of(ld, "body"), "body needs method = POST");
    return true;
}

static bool check_request(struct fl__loader *ld)
{
    const struct fl_scenario_request *r = ld->cur;
    const struct fl__section *sc = &fl__scenario_sections[FL__SEC_REQUEST];
    unsigned bit = 1u << r->kind;
    for (size_t i = 0; i < sc->nkeys; i++) {
        const struct fl__key *k = &sc->keys[i];
        if (ld->line[i] && !(k->kinds & bit))
            return fl__scenario_fail(ld, ld->line[i], "%s: does not apply to kind = %s", k->name,
                                     fl__scenario_kinds[r->kind]);
        if (!ld->line[i] && (k->required & bit))
            return fl__scenario_fail(ld, ld->sec_line,
                                     "[request %s]: missing key '%s' (kind = %s needs it)", r->name,
                                     k->name, fl__scenario_kinds[r->kind]);
    }
    return r->kind == FL_SCENARIO_WORK ? check_work(ld) : true;
}

bool fl__scenario_finish_section(struct fl__loader *ld)
{
    const struct fl__section *sc = &fl__scenario_sections[ld->sec];
    bool ok = true;
    for (size_t i = 0; ok && i < sc->nkeys; i++)
        if (!ld->line[i] && sc->keys[i].required == FL__ALL)
            ok = fl__scenario_fail(ld, ld->sec_line, "[%s%s%s]: missing key '%s'", sc->word,
                                   *fl__scenario_cur_name(ld) ? " " : "", fl__scenario_cur_name(ld),
                                   sc->keys[i].name);
    if (ok && ld->sec == FL__SEC_SCENARIO && (ok = check_scenario(ld)))
        memcpy(ld->scen_line, ld->line, sizeof(ld->line));
    if (ok && ld->sec == FL__SEC_PHASE)
        ok = check_phase(ld);
    if (ok && ld->sec == FL__SEC_POPULATION)
        ok = check_population(ld);
    if (ok && ld->sec == FL__SEC_REQUEST)
        ok = check_request(ld);
    memset(ld->line, 0, sizeof(ld->line));
    ld->sec = FL__SEC_NONE;
    return ok;
}

/* --- the whole file ------------------------------------------------------ */

static bool finish_phases(struct fl__loader *ld)
{
    struct fl_scenario *s = ld->s;
    int ldur = ld->scen_line[fl__scenario_key_index(FL__SEC_SCENARIO, "duration")];
    char a[32], b[32];
    if (!s->nphases) {
        if (!ldur)
            return fl__scenario_fail(
                ld, ld->scen_sec_line,
                "[scenario]: missing key 'duration' (or [phase NAME] sections)");
        void *p =
            fl__scenario_append(ld, s->phases, &s->nphases, FL__SEC_PHASE, 1, sizeof(*s->phases));
        if (!p)
            return false;
        s->phases = p;
        s->phases[0] = (struct fl_scenario_phase){.name = "main",
                                                  .duration = s->duration,
                                                  .rate = s->rate,
                                                  .connections = s->connections};
        return true;
    }
    if (ldur && s->duration != ld->phases_total)
        return fl__scenario_fail(ld, ldur, "duration %s: the phases add up to %s",
                                 fmt_time(s->duration, a, sizeof(a)),
                                 fmt_time(ld->phases_total, b, sizeof(b)));
    s->duration = ld->phases_total;
    uint64_t start = 0;
    for (size_t i = 0; i < s->nphases; i++) {
        s->phases[i].start = start;
        start += s->phases[i].duration;
    }
    return true;
}

/* Scales the weights at `off` in `n` elements of `size` bytes to sum to 1. */
static bool normalise(struct fl__loader *ld, void *arr, size_t n, size_t size, size_t off,
                      const char *what, int line)
{
    double sum = 0, w;
    for (size_t i = 0; i < n; i++) {
        memcpy(&w, (char *)arr + i * size + off, sizeof(w));
        sum += w;
    }
    if (!(sum > 0))
        return fl__scenario_fail(ld, line, "%s: the %ss add up to 0", what, what);
    /* Already normalised (a printed scenario, whose weights have 10
     * digits): scaling again would move the last digit, and printing and
     * reading back would not be a fixed point. */
    if (fabs(sum - 1) <= 1e-8)
        return true;
    for (size_t i = 0; i < n; i++) {
        memcpy(&w, (char *)arr + i * size + off, sizeof(w));
        w /= sum;
        memcpy((char *)arr + i * size + off, &w, sizeof(w));
    }
    return true;
}

bool fl__scenario_finish_file(struct fl__loader *ld)
{
    struct fl_scenario *s = ld->s;
    char a[32], b[32];
    if (ld->sec != FL__SEC_NONE && !fl__scenario_finish_section(ld))
        return false;
    if (!ld->scen_sec_line)
        return fl__scenario_fail(ld, ld->lineno, "no [scenario] section");
    if (!finish_phases(ld))
        return false;
    int lwarm = ld->scen_line[fl__scenario_key_index(FL__SEC_SCENARIO, "warmup")];
    if (s->warmup >= s->duration)
        return fl__scenario_fail(ld, lwarm, "warmup %s: not shorter than the run (%s)",
                                 fmt_time(s->warmup, a, sizeof(a)),
                                 fmt_time(s->duration, b, sizeof(b)));
    if (!s->npopulations)
        return fl__scenario_fail(ld, ld->lineno,
                                 "no [population NAME] section: at least one is needed");
    if (!s->nrequests)
        return fl__scenario_fail(ld, ld->lineno,
                                 "no [request NAME] section: at least one is needed");
    return normalise(ld, s->populations, s->npopulations, sizeof(*s->populations),
                     offsetof(struct fl_scenario_population, share), "share", ld->pop_line) &&
           normalise(ld, s->requests, s->nrequests, sizeof(*s->requests),
                     offsetof(struct fl_scenario_request, weight), "weight", ld->req_line);
}

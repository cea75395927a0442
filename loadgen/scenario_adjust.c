/* scenario_adjust.c - the command line's overrides of a loaded scenario. */
#include <math.h>

#include "scenario.h"

void fl_scenario_scale_duration(struct fl_scenario *s, uint64_t d)
{
    double k = (double)d / (double)s->duration;
    uint64_t start = 0;
    for (size_t i = 0; i < s->nphases; i++) {
        struct fl_scenario_phase *p = &s->phases[i];
        uint64_t end =
            i + 1 == s->nphases ? d : (uint64_t)llround((double)(p->start + p->duration) * k);
        if (end <= start)
            end = start + 1; /* a phase never vanishes */
        if (end > d)
            end = d;
        p->start = start;
        p->duration = end > start ? end - start : 1;
        start = end;
    }
    s->duration = d;
}

void fl_scenario_set_rate(struct fl_scenario *s, double r)
{
    for (size_t i = 0; i < s->nphases; i++) {
        struct fl_scenario_phase *p = &s->phases[i];
        if (r <= 0)
            p->rate = 0;
        else if (s->rate > 0)
            p->rate = p->rate * r / s->rate;
        else
            p->rate = r;
    }
    s->rate = r > 0 ? r : 0;
}

void fl_scenario_set_connections(struct fl_scenario *s, uint32_t n)
{
    for (size_t i = 0; i < s->nphases; i++) {
        struct fl_scenario_phase *p = &s->phases[i];
        double c = round((double)p->connections * n / s->connections);
        p->connections = c < 1 ? 1 : c > n ? n : (uint32_t)c;
    }
    s->connections = n;
}

double fl_scenario_drop_kind(struct fl_scenario *s, enum fl_scenario_kind kind)
{
    double dropped = 0;
    size_t k = 0;
    for (size_t i = 0; i < s->nrequests; i++) {
        if (s->requests[i].kind == kind)
            dropped += s->requests[i].weight;
        else
            s->requests[k++] = s->requests[i];
    }
    s->nrequests = k;
    double left = 1 - dropped;
    if (k && left > 0)
        for (size_t i = 0; i < k; i++)
            s->requests[i].weight /= left;
    return k ? dropped : 1;
}

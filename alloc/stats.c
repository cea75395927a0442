/* stats.c - one stats call for every allocator, and release. */
#include "backend.h"

#include <math.h>
#include <stdio.h>

int fl_alloc_stats_read(struct fl_alloc_stats *s)
{
    struct fl_procmem m;
    int rc = fl_procmem_read(0, &m);
    /* Back ends fill what they have; every other figure, another
     * allocator's breakdown among them, stays n/a. */
#define FL_X(field, name, help) s->field = FL_NA;
    FL_ALLOCATOR_FIELDS(FL_X)
#undef FL_X
#define FL_X(field, name, help) s->field = m.field;
    FL_PROCMEM_FIELDS(FL_X)
#undef FL_X

    const struct fl__alloc_backend *be = fl__alloc_backend_active();
    if (be)
        be->stats(s);

    int64_t basis = s->resident != FL_NA ? s->resident : s->rss_anon;
    s->frag_basis = s->resident != FL_NA ? "allocator" : "rss_anon";
    if (s->allocated > 0 && basis != FL_NA) {
        s->frag_ratio = (double)(basis - s->allocated) / (double)s->allocated;
    } else {
        s->frag_ratio = NAN;
        s->frag_basis = "n/a";
    }
    return rc;
}

void fl_alloc_release(void)
{
    const struct fl__alloc_backend *be = fl__alloc_backend_active();
    if (be)
        be->release();
}

void fl_alloc_release_thread(void)
{
    const struct fl__alloc_backend *be = fl__alloc_backend_active();
    if (be && be->release_thread)
        be->release_thread();
}

void fl_alloc_sample_thread(void)
{
    const struct fl__alloc_backend *be = fl__alloc_backend_active();
    if (be && be->sample_thread)
        be->sample_thread();
}

void fl_alloc_stats_print(FILE *f, const struct fl_alloc_stats *s)
{
#define FL_X(field, name, help)                                                                    \
    if (s->field == FL_NA)                                                                         \
        fprintf(f, "%-26s n/a\n", #field ":");                                                     \
    else                                                                                           \
        fprintf(f, "%-26s %lld\n", #field ":", (long long)s->field);
    FL_ALLOC_STATS_FIELDS(FL_X)
#undef FL_X
    if (isnan(s->frag_ratio))
        fprintf(f, "%-26s n/a\n", "frag_ratio:");
    else
        fprintf(f, "%-26s %.3f (basis: %s)\n", "frag_ratio:", s->frag_ratio, s->frag_basis);
}

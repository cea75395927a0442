/* matrix_report_plot.c - DIR/plots.gp and its PNGs (overhead.png, rss.png,
 * alloc.png, bars.png) through gnuplot, run with posix_spawnp in DIR so the script
 * reads the runs' CSVs by relative path and can be rerun by hand. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "matrix_report_internal.h"

extern char **environ;

#define MIB 1048576.0

/* A gnuplot single-quoted string: only ' needs doubling. */
static void gq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; s && *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n')
            fputc(*s, f);
    }
    fputc('\'', f);
}

static bool plotted(const struct fl__mr_run *run)
{
    return run->has_csv && run->dir && run->col_t > 0 && run->col_rss > 0;
}

/* The modes with something to plot, in first-seen order. */
static int modes(const struct fl__mr_report *r, const char **m, int max)
{
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        if (!plotted(&r->runs[i]) || !r->runs[i].mode)
            continue;
        int k = 0;
        while (k < n && strcmp(m[k], r->runs[i].mode) != 0)
            k++;
        if (k == n && n < max)
            m[n++] = r->runs[i].mode;
    }
    return n;
}

static const char *label_of(const struct fl__mr_run *run)
{
    return run->spec ? run->spec : run->allocator ? run->allocator : "?";
}

/* An allocator's colour, the same in every panel and plot: its place among
 * the distinct allocator labels of the whole matrix, in first-seen order, so
 * a pairing missing from one mode does not shift the others' colours. */
static const char *colour(const struct fl__mr_report *r, const struct fl__mr_run *run)
{
    static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                          "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    const size_t np = sizeof(palette) / sizeof(palette[0]);
    size_t k = 0;
    for (int i = 0; i < r->n; i++) {
        const char *l = label_of(&r->runs[i]);
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(label_of(&r->runs[j]), l);
        if (seen)
            continue;
        if (!strcmp(l, label_of(run)))
            break;
        k++;
    }
    return palette[k % np];
}

/* One panel per mode: every allocator's `what` over time. */
static void panels(FILE *f, const struct fl__mr_report *r, const char **m, int nm, bool alloc)
{
    double tmax = 1, ymax = 1;
    for (int i = 0; i < r->n; i++)
        if (plotted(&r->runs[i])) {
            tmax = fmax(tmax, r->runs[i].t_end);
            ymax = fmax(ymax, r->runs[i].mem_max / MIB);
        }
    fprintf(f, "set multiplot layout %d,1\nset xrange [0:%g]\nset yrange [0:%g]\n", nm, tmax,
            ymax * 1.1);
    /* Fixed margins keep the panels' time axes aligned whatever their keys. */
    fprintf(f, "set lmargin 10\nset rmargin at screen 0.78\n");
    fprintf(f, "set xlabel 'time (s)'\nset ylabel '%s (MiB)'\n", alloc ? "bytes" : "RSS");
    for (int k = 0; k < nm; k++) {
        double idle = NAN;
        for (int i = 0; i < r->n; i++)
            if (plotted(&r->runs[i]) && !strcmp(r->runs[i].mode, m[k]) &&
                !isnan(r->runs[i].idle_start))
                idle = isnan(idle) ? r->runs[i].idle_start : fmin(idle, r->runs[i].idle_start);
        fputs("unset object\n", f);
        if (!isnan(idle))
            fprintf(f,
                    "set object 1 rect from %g, graph 0 to graph 1, graph 1 behind "
                    "fc rgb '#e8e8e8' fs solid noborder\n",
                    idle);
        fputs("set title ", f);
        gq(f, m[k]);
        fputs(isnan(idle) ? "\nplot " : " . ' (grey: idle tail)'\nplot ", f);
        int marked = 0;
        for (int i = 0; i < r->n; i++) {
            const struct fl__mr_run *run = &r->runs[i];
            if (!plotted(run) || strcmp(run->mode, m[k]) != 0)
                continue;
            char file[PATH_MAX];
            snprintf(file, sizeof(file), "%s/timeseries.csv", run->dir);
            const char *label = label_of(run), *lc = colour(r, run);
            if (!alloc) {
                gq(f, file);
                fprintf(f,
                        " using %d:($%d/%.0f) with linespoints pt 7 ps 0.4 lw 2 lc rgb '%s' title ",
                        run->col_t, run->col_rss, MIB, lc);
                gq(f, label);
                if (run->nsteps) {
                    fprintf(f, ", '-' using 1:2 with points pt 9 ps 2 lc rgb '%s' %s, ", lc,
                            marked++ ? "notitle" : "title 'stair-step'");
                } else
                    fputs(", ", f);
                continue;
            }
            for (int c = 0; c < 2; c++) {
                int col = c ? run->col_res : run->col_alloc;
                if (col <= 0 || isnan(c ? run->res_peak : run->alloc_peak))
                    continue;
                gq(f, file);
                fprintf(f, " using %d:($%d/%.0f) with lines lw 2 dt %d lc rgb '%s' title ",
                        run->col_t, col, MIB, c ? 2 : 1, lc);
                char t[200];
                snprintf(t, sizeof(t), "%s %s", label, c ? "resident" : "allocated");
                gq(f, t);
                fputs(", ", f);
            }
        }
        fputs("NaN notitle\n", f);
        /* The inline data of the stair-step markers, in plot order. */
        for (int i = 0; !alloc && i < r->n; i++) {
            const struct fl__mr_run *run = &r->runs[i];
            if (!plotted(run) || strcmp(run->mode, m[k]) != 0 || !run->nsteps)
                continue;
            for (int s = 0; s < run->nsteps && s < FL__MR_MAX_STEPS; s++)
                fprintf(f, "%g,%g\n", run->steps[s].t_s, run->steps[s].at / MIB);
            fputs("e\n", f);
        }
    }
    fputs("unset multiplot\nunset object\n", f);
}

static bool stacked(const struct fl__mr_run *run)
{
    return plotted(run) && run->col_alloc > 0 && run->stack_max > 0;
}

/* One panel's layers: live (allocated), in-heap overhead max(0, heap -
 * allocated), outside max(0, RSS - heap), each filled between the layer
 * below and its own top; then the allocator-specific columns as lines. The
 * heap counts at most RSS: a mapped basis (mimalloc's committed bytes) can
 * exceed what is resident, and the stack must add up to RSS. */
static void stack_plot(FILE *f, const struct fl__mr_run *run)
{
    static const char *const detail_colour[] = {"#000000", "#9467bd", "#e377c2", "#17becf",
                                                "#bcbd22", "#8c564b", "#d62728"};
    char file[PATH_MAX], a[16], h[32], r[16];
    snprintf(file, sizeof(file), "%s/timeseries.csv", run->dir);
    snprintf(a, sizeof(a), "$%d", run->col_alloc);
    snprintf(h, sizeof(h), "low($%d,$%d)", run->col_heap > 0 ? run->col_heap : run->col_rss,
             run->col_rss);
    snprintf(r, sizeof(r), "$%d", run->col_rss);
    fputs("plot ", f);
    gq(f, file);
    fprintf(f, " using %d:(0):(%s/%.0f) with filledcurves lc rgb '#4c72b0' title 'live', ",
            run->col_t, a, MIB);
    gq(f, file);
    fprintf(f,
            " using %d:(%s/%.0f):((%s+pos(%s-%s))/%.0f) with filledcurves lc rgb '#dd8452' "
            "title 'overhead in the heap', ",
            run->col_t, a, MIB, a, h, a, MIB);
    gq(f, file);
    fprintf(f,
            " using %d:((%s+pos(%s-%s))/%.0f):((%s+pos(%s-%s)+pos(%s-%s))/%.0f) with "
            "filledcurves lc rgb '#b0b0b0' title 'RSS outside the heap'",
            run->col_t, a, h, a, MIB, a, h, a, r, h, MIB);
    for (int k = 0, n = 0; k < FL__MR_NDETAIL; k++) {
        if (!run->col_detail[k])
            continue;
        fputs(", ", f);
        gq(f, file);
        fprintf(f, " using %d:($%d/%.0f) with lines dt 2 lw 2 lc rgb '%s' title '%s'", run->col_t,
                run->col_detail[k], MIB, detail_colour[n++ % 7], fl__mr_detail_names[k]);
    }
    fputc('\n', f);
}

/* overhead.png: one small panel per pairing, one y scale for all. */
static void stacks(FILE *f, const struct fl__mr_report *r)
{
    int n = 0;
    double tmax = 1, ymax = 1;
    for (int i = 0; i < r->n; i++)
        if (stacked(&r->runs[i])) {
            n++;
            tmax = fmax(tmax, r->runs[i].t_end);
            ymax = fmax(ymax, r->runs[i].stack_max / MIB);
        }
    if (!n)
        return;
    int cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
    fprintf(f,
            "pos(x) = x > 0 ? x : 0\nlow(x, y) = x < y ? x : y\nset terminal pngcairo size 1400,%d "
            "noenhanced\n"
            "set output 'overhead.png'\nset multiplot layout %d,%d\nset xrange [0:%g]\n"
            "set yrange [0:%g]\nset lmargin 10\nset rmargin 26\nset style fill solid 0.85 "
            "noborder\nset key outside right top Left reverse font ',8'\nset xlabel 'time (s)'\n"
            "set ylabel 'MiB'\n",
            280 * rows + 40, rows, cols, tmax, ymax * 1.05);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (!stacked(run))
            continue;
        fputs("unset object\n", f);
        if (!isnan(run->idle_start))
            fprintf(f,
                    "set object 1 rect from %g, graph 0 to graph 1, graph 1 behind "
                    "fc rgb '#e8e8e8' fs solid noborder\n",
                    run->idle_start);
        char t[300], drift[48] = "";
        if (fl__mr_drifts(run))
            snprintf(drift, sizeof(drift), "; live data drifts %+.0f %%",
                     100 * (fabs(run->worst_drift) > fabs(run->live_drift) ? run->worst_drift
                                                                           : run->live_drift));
        snprintf(t, sizeof(t), "%s (heap: %s)%s%s", run->name ? run->name : "?",
                 run->heap_basis ? run->heap_basis : "RSS",
                 isnan(run->idle_start) ? "" : ", grey: idle tail", drift);
        fputs("set title ", f);
        gq(f, t);
        fputc('\n', f);
        stack_plot(f, run);
    }
    fputs("unset multiplot\nunset object\nset rmargin -1\nset style fill empty\n", f);
}

static void bars(FILE *f, const struct fl__mr_report *r)
{
    fputs("$bars << EOD\n", f);
    for (int i = 0; i < r->n; i++) {
        const struct fl__mr_run *run = &r->runs[i];
        if (!run->has_csv && !run->has_summary)
            continue;
        double v[] = {run->rss_peak / MIB, run->rss_steady / MIB, run->rss_idle / MIB, run->rps};
        fprintf(f, "\"%s\"", run->name ? run->name : "?");
        for (size_t k = 0; k < 4; k++)
            fprintf(f, isnan(v[k]) ? ",?" : ",%g", v[k]);
        fputc('\n', f);
    }
    /* The key sits above the plot box, under the title, where no bar
     * reaches (inside it covered the tallest); throughput has one
     * series, named by its title and axis, so it needs none. A fixed left
     * margin leaves the y label room beside six-digit tics ("req/s" was
     * clipped), and the bottom one rotated pairing names of 40 characters. */
    fputs("EOD\nset lmargin 12\nset rmargin 3\nset tmargin 5\nset bmargin 11\n"
          "set multiplot layout 1,2\n"
          "set key at graph 0.5, graph 1.01 center bottom horizontal\n"
          "set style data histogram\n"
          "set style histogram cluster gap 1\nset style fill solid 0.8 border -1\n"
          "set xtics rotate by -30\nset xrange [*:*]\nset yrange [0:*]\nunset xlabel\n"
          "set title 'RSS per run' offset 0,1\nset ylabel 'MiB' offset 1,0\n"
          "plot $bars using 2:xtic(1) title 'peak', '' using 3 title 'steady', "
          "'' using 4 title 'after idle'\n"
          "unset key\nset title 'throughput per run' offset 0,1\nset ylabel 'req/s' offset 1,0\n"
          "plot $bars using 5:xtic(1) notitle lc 3\nunset multiplot\n"
          "set lmargin -1\nset rmargin -1\nset tmargin -1\nset bmargin -1\n",
          f);
}

static int script(const struct fl__mr_report *r, const char *path)
{
    const char *m[8];
    int nm = modes(r, m, 8);
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fputs("# plots.gp - written by fraglab-loadgen report; run `gnuplot plots.gp` in this\n"
          "# folder. Empty CSV cells are missing values.\n"
          "set datafile separator ','\nset datafile missing '?'\n"
          "set termoption noenhanced\nset key outside right top\nset grid\n",
          f);
    stacks(f, r);
    if (nm) {
        fprintf(f, "set terminal pngcairo size 1200,%d noenhanced\nset output 'rss.png'\n",
                300 * nm + 100);
        panels(f, r, m, nm, false);
        fprintf(f, "set output 'alloc.png'\n");
        panels(f, r, m, nm, true);
    }
    fputs("set terminal pngcairo size 1200,600 noenhanced\nset output 'bars.png'\n", f);
    bars(f, r);
    fputs("set output\n", f);
    bool bad = ferror(f);
    return fclose(f) != 0 || bad ? -EIO : 0;
}

bool fl__mr_plot(const struct fl__mr_report *r)
{
    char gp[PATH_MAX], log[PATH_MAX];
    snprintf(gp, sizeof(gp), "%s/plots.gp", r->dir);
    snprintf(log, sizeof(log), "%s/plots.log", r->dir);
    int rc = script(r, gp);
    if (rc) {
        fprintf(stderr, "report: warning: %s: %s; no plots\n", gp, strerror(-rc));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addchdir_np(&fa, r->dir);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "plots.log", O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    char *argv[] = {"gnuplot", "plots.gp", NULL};
    pid_t pid;
    rc = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) {
        fprintf(stderr, "report: warning: gnuplot: %s; no plots (install gnuplot-nox)\n",
                strerror(rc));
        return false;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return false;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "report: warning: gnuplot failed (see %s); plots may be missing\n", log);
        return false;
    }
    return true;
}

/* main.c - fraglab-server entry point. */
#include "fl_alloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FRAGLAB_VERSION
#define FRAGLAB_VERSION "0"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fraglab-server [options]\n"
            "  --allocator NAME[:SETTINGS]  glibc|jemalloc|mimalloc|tcmalloc|/path/to/malloc.so\n"
            "                               (default glibc); SETTINGS in the allocator's terms:\n"
            "                               jemalloc:dirty_decay_ms:1000,narenas:2 (MALLOC_CONF)\n"
            "                               glibc:arena_max=2 (GLIBC_TUNABLES glibc.malloc.*)\n"
            "                               mimalloc:page_reset=1 (MIMALLOC_PAGE_RESET)\n"
            "                               tcmalloc:release_rate=10 (TCMALLOC_RELEASE_RATE)\n"
            "  --check                      print the verified allocator and its stats, exit\n"
            "  --help, --version\n");
}

static int check(const struct fl_alloc_info *in)
{
    struct fl_alloc_stats s;
    fl_alloc_stats_read(&s);
    printf("%-26s %s\n%-26s %s\n%-26s %s\n%-26s %s\n%-26s %s\n", "allocator:", in->name,
           "version:", in->version, "library:", in->library, "requested:", in->requested,
           "settings:", *in->settings ? in->settings : "(defaults)");
    fl_alloc_stats_print(stdout, &s);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"allocator", required_argument, NULL, 'a'},
        {"check", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0, 0, 0, 0},
    };
    const char *allocator = "glibc";
    int do_check = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            allocator = optarg;
            break;
        case 'c':
            do_check = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("fraglab-server %s\n", FRAGLAB_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fraglab-server: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    struct fl_alloc_info info;
    char err[FL_ALLOC_ERRLEN];
    if (fl_alloc_init(allocator, argv, &info, err, sizeof(err))) {
        fprintf(stderr, "fraglab-server: %s\n", err);
        return 2;
    }
    if (do_check) return check(&info);
    fprintf(stderr, "fraglab-server: serving arrives with --mode (issue 3); try --check\n");
    return 2;
}

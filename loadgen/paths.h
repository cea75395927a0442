/* paths.h - where this binary lives and making results folders. */
#ifndef FL_LOADGEN_PATHS_H
#define FL_LOADGEN_PATHS_H

#include <stddef.h>

/* `rel` joined to this binary's folder ("fraglab-server",
 * "../../config/quick.ini"); `buf`, or NULL when it does not fit. */
const char *fl_lg_beside_exe(const char *rel, char *buf, size_t len);

/* mkdir -p; 0 or -errno. */
int fl_lg_make_dirs(const char *path);

#endif

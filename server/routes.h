/* routes.h - the endpoints (/healthz, /echo, /work, /stats, /metrics,
 * /admin/release) as the route callback the HTTP layer is given. */
#ifndef FL_SERVER_ROUTES_H
#define FL_SERVER_ROUTES_H

#include "http.h"

/* Answers the request just parsed on connection `c` (see
 * fl_http_route_cb), then frees the connection's holds that fell due. */
fl_http_route_cb fl_routes_cb;

#endif

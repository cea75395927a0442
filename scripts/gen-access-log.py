#!/usr/bin/env python3
"""gen-access-log.py - writes a synthetic nginx access log, for
`fraglab-loadgen scenario --from-log` and its tests (config/sample-access.log
is its output with the defaults and --lines 400).

Its shape is known, so a conversion can be checked against it: a quarter of
the lines over the first 120 s, no request for the next 60 s, three quarters
over the last 120 s (three times the rate). Requests: about 50 % API calls
(GET/DELETE /api/...), 30 % static files (/static/*.js|css|png), 20 %
uploads (POST/PUT /api/upload); answers log-uniform per kind, 5 % 304/404
with no body. The json format adds request_length, request_time and
connections ($connection, $connection_requests) from a pool of open ones:
30 % of connections carry 1 request, 40 % 2-10, 30 % 11-200.

--malformed K spreads K bad lines evenly, cycling through the kinds the
converter counts: layout, time, request, number.

    scripts/gen-access-log.py --lines 400 --malformed 6 > config/sample-access.log
"""
import argparse
import json
import math
import random
import sys
import time

START = 1764957600  # 2025-12-05T18:00:00Z
PHASES = ((0, 120, 0.25), (180, 120, 0.75))  # (start s, length s, share of lines)
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def time_local(t):
    g = time.gmtime(int(t))
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
        g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def logu(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def request(rng):
    """(method, path, body bytes sent, request body length)."""
    u = rng.random()
    if u < 0.5:
        method = "DELETE" if rng.random() < 0.05 else "GET"
        return method, "/api/v1/items/%d?full=1" % rng.randrange(10000), logu(rng, 64, 8192), 0
    if u < 0.8:
        ext = rng.choice(("js", "css", "png"))
        return "GET", "/static/app.%d.%s" % (rng.randrange(50), ext), logu(rng, 1024, 524288), 0
    method = "PUT" if rng.random() < 0.2 else "POST"
    return method, "/api/upload", logu(rng, 16, 256), logu(rng, 1024, 262144)


class Connections:
    """A pool of open connections, each with its planned request count."""

    def __init__(self, rng):
        self.rng, self.next_id, self.open = rng, 1, []

    def planned(self):
        u = self.rng.random()
        if u < 0.3:
            return 1
        return self.rng.randint(2, 10) if u < 0.7 else self.rng.randint(11, 200)

    def take(self):
        if len(self.open) < 50:
            self.open.append([self.next_id, 0, self.planned()])
            self.next_id += 1
        i = self.rng.randrange(len(self.open))
        c = self.open[i]
        c[1] += 1
        if c[1] >= c[2]:
            self.open[i] = self.open[-1]
            self.open.pop()
        return c[0], c[1]


def malformed(fmt, k, t):
    kind = k % 4
    if fmt == "json":
        good = {"msec": "%.3f" % t, "request": "GET / HTTP/1.1", "status": "200",
                "body_bytes_sent": "10"}
        if kind == 0:
            return json.dumps(good)[:40]
        good[("msec", "request", "status")[kind - 1]] = ("noon", "\\x16\\x03", "2OO")[kind - 1]
        return json.dumps(good, separators=(",", ":"))
    if kind == 0:
        return '10.0.0.9 - - [%s] "GET /api/v1/it' % time_local(t)
    if kind == 1:
        return '10.0.0.9 - - [yesterday at noon] "GET / HTTP/1.1" 200 10 "-" "x"'
    if kind == 2:
        return '10.0.0.9 - - [%s] "\\x16\\x03\\x01\\x02\\x00" 400 157 "-" "-"' % time_local(t)
    return '10.0.0.9 - - [%s] "GET / HTTP/1.1" 200 lots "-" "-"' % time_local(t)


def line(fmt, rng, conns, t):
    method, path, sent, body = request(rng)
    status = 200
    if rng.random() < 0.05:
        status, sent = rng.choice((304, 404)), 0
    ip = "10.0.%d.%d" % (rng.randrange(4), rng.randrange(1, 255))
    if fmt == "combined":
        return '%s - - [%s] "%s %s HTTP/1.1" %d %d "-" "Mozilla/5.0 (X11; Linux x86_64)"' % (
            ip, time_local(t), method, path, status, sent)
    conn, nreq = conns.take()
    return json.dumps({
        "msec": "%.3f" % t, "request": "%s %s HTTP/1.1" % (method, path), "status": str(status),
        "body_bytes_sent": str(sent), "request_length": str(rng.randint(300, 600) + body),
        "request_time": "%.3f" % (rng.random() * 0.05), "connection": str(conn),
        "connection_requests": str(nreq)}, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=400)
    ap.add_argument("--format", choices=("combined", "json"), default="combined")
    ap.add_argument("--malformed", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng, out = random.Random(args.seed), sys.stdout
    conns = Connections(rng)
    every = args.lines // args.malformed if args.malformed else 0
    written, bad = 0, 0
    for start, length, share in PHASES:
        n = round(args.lines * share)
        for i in range(n):
            t = START + start + length * i / n
            if every and written % every == every // 2 and bad < args.malformed:
                out.write(malformed(args.format, bad, t) + "\n")
                bad += 1
            out.write(line(args.format, rng, conns, t) + "\n")
            written += 1


if __name__ == "__main__":
    main()

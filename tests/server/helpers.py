"""helpers.py - shared pieces of the fraglab-server integration suites.

Starting and stopping the real server on ephemeral loopback ports, a strict
incremental HTTP/1.1 response parser (Content-Length, chunked and
close-delimited bodies, 1xx interim responses), a raw-socket client built on
it, and a strict parser for the Prometheus text format 0.0.4.

Python 3.11 standard library only. Everything talks to 127.0.0.1 and every
network operation has a timeout.
"""

import json
import re
import resource
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 5.0
SKIP = 77  # the exit code ctest's SKIP_RETURN_CODE and automake use


class Skip(Exception):
    """The environment cannot run the suite (e.g. a sanitizer build refused
    the allocator); the suite exits 77 with this reason."""


class ProtocolError(Exception):
    """The server's bytes are not valid HTTP/1.1 (or not what was asked)."""


class Closed(Exception):
    """The peer closed the connection (EOF or reset) before a full response."""


# ---------------------------------------------------------------- ports, limits


def free_port():
    """A port the kernel just handed out on 127.0.0.1 (closed again, so a
    race with another process is possible; Server.start retries once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def raise_nofile(want):
    """Raises the soft RLIMIT_NOFILE towards `want` (at most the hard limit).
    Child processes started afterwards (the server) inherit it. Returns the
    soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


# ---------------------------------------------------------------- the server

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error:",
                     "ERROR: UndefinedBehaviorSanitizer")


class Server:
    """One fraglab-server process on fresh loopback ports.

    `args` are extra flags; --port, --echo-port and --bind are added here.
    stderr goes to a temporary file (a pipe could fill and block the server);
    `stderr_tail()` reads it back for failure reports."""

    def __init__(self, path, args, echo=True, preexec=None):
        self.path = path
        self.args = list(args)
        self.echo = echo
        self.preexec = preexec  # run in the child before exec (e.g. setrlimit)
        self.proc = None
        self.port = None
        self.echo_port = None
        self._err = None

    def start(self, ready_timeout=10.0):
        """Starts the server and waits until GET /healthz answers 200.
        Retries once with new ports if the first start fails for a reason
        other than a refused allocator. Raises Skip or RuntimeError."""
        for attempt in (1, 2):
            self._spawn()
            why = self._wait_ready(ready_timeout)
            if why is None:
                return self
            err = self.stderr_text()
            rc = self.proc.poll()
            if rc == 2 and "sanitizer build" in err:
                raise Skip(err.strip().splitlines()[-1])
            if rc == 3:  # io_uring not available: a missing kernel feature
                raise Skip("io_uring not available: " + err.strip()[-300:])
            self._kill()
            if attempt == 2 or rc is None:
                raise RuntimeError(f"server did not become ready: {why}")
        raise AssertionError("unreachable")

    def _spawn(self):
        self.port = free_port()
        self.echo_port = free_port() if self.echo else 0
        while self.echo and self.echo_port == self.port:
            self.echo_port = free_port()
        if self._err:
            self._err.close()
        self._err = tempfile.TemporaryFile(prefix="fraglab-server-err-")
        cmd = [self.path, *self.args, "--bind", HOST, "--port", str(self.port),
               "--echo-port", str(self.echo_port)]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._err,
                                     preexec_fn=self.preexec)

    def _wait_ready(self, timeout):
        """None when /healthz answers 200, else a reason."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return f"exited with code {rc}"
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=1.0)
                if r.status == 200:
                    return None
                last = f"/healthz answered {r.status}"
            except (OSError, Closed, ProtocolError) as e:
                last = f"/healthz: {e!r}"
            time.sleep(0.05)
        return f"not ready after {timeout:.0f} s ({last})"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Sends `sig` (SIGTERM), then waits up to `timeout`. Returns (exit
        code, seconds); the exit code is None if it had to be killed."""
        if self.proc is None:
            return None, 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            rc = None
        return rc, time.monotonic() - t0

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def stderr_text(self):
        if not self._err:
            return ""
        self._err.flush()
        self._err.seek(0)
        return self._err.read().decode("utf-8", "replace")

    def stderr_tail(self, lines=40):
        return "\n".join(self.stderr_text().splitlines()[-lines:])

    def sanitizer_reports(self):
        """Lines of sanitizer reports on the server's stderr."""
        return [l for l in self.stderr_text().splitlines()
                if any(m in l for m in SANITIZER_MARKERS)]


# ---------------------------------------------------------------- HTTP parsing

_STATUS_RE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?")
_TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_HEAD = 64 * 1024


class Response:
    """One parsed response. Header names are lower-case; `headers` keeps
    every (name, value) in order, `header()` returns the last value."""

    def __init__(self, version, status, reason, headers, body, raw_len):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_len = raw_len

    def header(self, name):
        name = name.lower()
        val = None
        for k, v in self.headers:
            if k == name:
                val = v
        return val

    def connection_tokens(self):
        v = self.header("connection") or ""
        return {t.strip().lower() for t in v.split(",") if t.strip()}

    def short(self, n=200):
        """Status and the start of the body, for failure messages."""
        b = self.body[:n]
        return f"{self.status} {self.reason!r} body={b!r}{'...' if len(self.body) > n else ''}"

    def __repr__(self):
        return f"<Response {self.short(60)}>"


def _find_crlf(buf, start):
    i = buf.find(b"\r\n", start)
    if i < 0:
        if len(buf) - start > _MAX_HEAD:
            raise ProtocolError("line longer than 64 KiB without CRLF")
        return -1
    if b"\n" in buf[start:i]:
        raise ProtocolError(f"bare LF in line {bytes(buf[start:i])!r}")
    return i


def parse_response(buf, method="GET", eof=False):
    """Parses one response from the start of `buf` (bytes or bytearray).

    Returns (Response, bytes consumed), or None if more bytes are needed.
    `eof` says the peer has closed, which completes a close-delimited body.
    1xx interim responses are returned like any other (status 100..199,
    empty body). Raises ProtocolError for anything malformed."""
    end = _find_crlf(buf, 0)
    if end < 0:
        return None
    m = _STATUS_RE.fullmatch(bytes(buf[:end]))
    if not m:
        raise ProtocolError(f"bad status line {bytes(buf[:end][:100])!r}")
    version = f"{int(m.group(1))}.{int(m.group(2))}"
    status = int(m.group(3))
    reason = (m.group(4) or b"").decode("latin-1")
    pos = end + 2
    headers = []
    while True:
        end = _find_crlf(buf, pos)
        if end < 0:
            return None
        line = bytes(buf[pos:end])
        pos = end + 2
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN_RE.fullmatch(name):
            raise ProtocolError(f"bad header line {line[:100]!r}")
        headers.append((name.decode("latin-1").lower(),
                        value.strip(b" \t").decode("latin-1")))
    head = Response(version, status, reason, headers, b"", 0)

    if 100 <= status < 200 or status in (204, 304) or method == "HEAD":
        head.raw_len = pos
        return head, pos
    te = head.header("transfer-encoding")
    cls = [v for k, v in headers if k == "content-length"]
    if te is not None:
        if cls:
            raise ProtocolError("both Transfer-Encoding and Content-Length")
        if te.lower() != "chunked":
            raise ProtocolError(f"unsupported Transfer-Encoding {te!r}")
        return _parse_chunked(buf, pos, head)
    if cls:
        if len(set(cls)) != 1 or not re.fullmatch(r"[0-9]+", cls[0]):
            raise ProtocolError(f"bad Content-Length {cls!r}")
        n = int(cls[0])
        if len(buf) - pos < n:
            return None
        head.body = bytes(buf[pos:pos + n])
        head.raw_len = pos + n
        return head, pos + n
    # No length: the body runs to the end of the connection.
    if not eof:
        return None
    head.body = bytes(buf[pos:])
    head.raw_len = len(buf)
    return head, len(buf)


def _parse_chunked(buf, pos, head):
    body = bytearray()
    while True:
        end = _find_crlf(buf, pos)
        if end < 0:
            return None
        size_s = bytes(buf[pos:end]).split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]+", size_s):
            raise ProtocolError(f"bad chunk size {size_s!r}")
        size = int(size_s, 16)
        pos = end + 2
        if size == 0:
            while True:  # trailers, then the empty line
                end = _find_crlf(buf, pos)
                if end < 0:
                    return None
                empty = end == pos
                pos = end + 2
                if empty:
                    head.body = bytes(body)
                    head.raw_len = pos
                    return head, pos
        if len(buf) - pos < size + 2:
            return None
        body += buf[pos:pos + size]
        if bytes(buf[pos + size:pos + size + 2]) != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
        pos += size + 2


def build_request(method, target, headers=None, body=b"", version="1.1",
                  content_length=True):
    """Request bytes. Adds Host, and Content-Length when there is a body or
    the method is POST/PUT, unless `headers` sets it or content_length is
    False (e.g. for chunked uploads)."""
    hs = [("Host", HOST)]
    given = {k.lower() for k, _ in (headers or [])}
    hs += list(headers or [])
    if content_length and "content-length" not in given and \
            "transfer-encoding" not in given and (body or method in ("POST", "PUT")):
        hs.append(("Content-Length", str(len(body))))
    head = f"{method} {target} HTTP/{version}\r\n" + \
        "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
    return head.encode("latin-1") + bytes(body)


class HttpConn:
    """A raw-socket HTTP client connection: send bytes, read responses in
    order. Interim 1xx responses are skipped unless asked for."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=None, body=b"", version="1.1"):
        """Sends one request and returns its (final) response."""
        self.send(build_request(method, target, headers, body, version))
        return self.read_response(method)

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(256 * 1024)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, method="GET", interim=False):
        """Reads the next response. With interim=False, 1xx responses are
        read and dropped. Raises Closed, ProtocolError, or socket.timeout."""
        while True:
            r = parse_response(self.buf, method, self.eof)
            if r is None:
                if not self._fill():
                    r = parse_response(self.buf, method, True)
                    if r is None:
                        raise Closed(f"connection closed with {len(self.buf)} bytes of "
                                     f"an incomplete response: {bytes(self.buf[:200])!r}")
            if r is None:
                continue
            resp, used = r
            del self.buf[:used]
            if 100 <= resp.status < 200 and not interim:
                continue
            return resp

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """True if the server closes (EOF or reset) within `timeout` without
        sending anything more; False on timeout; raises ProtocolError if
        unexpected bytes arrive."""
        if self.buf:
            raise ProtocolError(f"unexpected bytes after response: {bytes(self.buf[:200])!r}")
        old = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(old)
        if data:
            raise ProtocolError(f"unexpected bytes instead of close: {data[:200]!r}")
        self.eof = True
        return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def http_request(port, method, target, headers=None, body=b"", timeout=DEFAULT_TIMEOUT):
    """One request on a fresh connection; returns the Response."""
    with HttpConn(port, timeout) as c:
        return c.request(method, target, headers, body)


def get_json(port, target="/stats", method="GET"):
    """Requests `target` and parses the body as JSON (status must be 200)."""
    r = http_request(port, method, target)
    if r.status != 200:
        raise AssertionError(f"{method} {target}: {r.short()}")
    try:
        return json.loads(r.body)
    except ValueError as e:
        raise AssertionError(f"{method} {target}: not JSON ({e}): {r.body[:300]!r}")


def work_pattern(n):
    """The /work response body: byte i is 'a' + i % 26."""
    alphabet = bytes(range(ord("a"), ord("a") + 26))
    return (alphabet * (n // 26 + 1))[:n]


# ---------------------------------------------------------------- Prometheus text 0.0.4

_METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_METRIC_RE = re.compile(_METRIC_NAME)
_LABEL_RE = re.compile(_LABEL_NAME)
_VALUE_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                       r"|[+-]?Inf|NaN")
_TS_RE = re.compile(r"-?[0-9]+")
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


class PromError(Exception):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []  # (sample name, {label: value}, float)

    def values(self, **labels):
        """Values of the samples whose labels include `labels`."""
        return [v for _, l, v in self.samples
                if all(l.get(k) == w for k, w in labels.items())]


def _unescape(s, allowed, lineno):
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if i + 1 >= len(s) or s[i + 1] not in allowed:
                raise PromError(f"line {lineno}: invalid escape in {s!r}")
            out.append(allowed[s[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _parse_labels(line, i, lineno):
    """Parses '{a="x",b="y"}' starting at line[i] == '{'; returns (dict, next i)."""
    labels = {}
    i += 1
    while True:
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        m = _LABEL_RE.match(line, i)
        if not m:
            raise PromError(f"line {lineno}: bad label name at {line[i:i + 20]!r}")
        name = m.group(0)
        if name.startswith("__"):
            raise PromError(f"line {lineno}: reserved label name {name!r}")
        if name in labels:
            raise PromError(f"line {lineno}: duplicate label {name!r}")
        i = m.end()
        if line[i:i + 2] != '="':
            raise PromError(f"line {lineno}: expected =\" after label {name!r}")
        i += 2
        j = i
        while j < len(line) and line[j] != '"':
            j += 2 if line[j] == "\\" else 1
        if j >= len(line):
            raise PromError(f"line {lineno}: unterminated label value")
        labels[name] = _unescape(line[i:j], {"\\": "\\", '"': '"', "n": "\n"}, lineno)
        i = j + 1
        if i < len(line) and line[i] == ",":
            i += 1
        elif i < len(line) and line[i] == "}":
            continue
        else:
            raise PromError(f"line {lineno}: expected , or }} after label {name!r}")


def _family_of(sample, families):
    """The declared family a sample name belongs to (histogram/summary
    samples carry suffixes), else the sample name itself."""
    for typ, sufs in _SUFFIXES.items():
        for suf in sufs:
            if sample.endswith(suf):
                base = sample[:-len(suf)]
                f = families.get(base)
                if f is not None and f.type == typ:
                    return base
    return sample


def parse_prometheus(text):
    """Strict parser for the Prometheus text exposition format 0.0.4.

    Checks: metric and label names, quoted label values with \\\\, \\" and
    \\n escapes only, float values (NaN, +Inf, -Inf), optional integer
    timestamp; HELP and TYPE at most once per family and before its first
    sample; a family's samples contiguous; no duplicate series; every
    HELP/TYPE family has samples; the text ends with a newline.
    Returns {family name: Family}. Raises PromError."""
    if text and not text.endswith("\n"):
        raise PromError("text does not end with a newline")
    families = {}
    seen_series = set()
    finished = set()  # families whose sample group has ended
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        if "\r" in line:
            raise PromError(f"line {lineno}: carriage return")
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not _METRIC_RE.fullmatch(parts[2]):
                    raise PromError(f"line {lineno}: bad {parts[1]} line {line!r}")
                name = parts[2]
                f = families.setdefault(name, Family(name))
                if f.samples:
                    raise PromError(f"line {lineno}: {parts[1]} for {name} after its samples")
                if parts[1] == "HELP":
                    if f.help is not None:
                        raise PromError(f"line {lineno}: second HELP for {name}")
                    f.help = _unescape(parts[3] if len(parts) > 3 else "",
                                       {"\\": "\\", "n": "\n"}, lineno)
                else:
                    if f.type is not None:
                        raise PromError(f"line {lineno}: second TYPE for {name}")
                    if len(parts) != 4 or parts[3].strip() not in _TYPES:
                        raise PromError(f"line {lineno}: bad TYPE line {line!r}")
                    f.type = parts[3].strip()
            continue  # other comments are allowed
        m = _METRIC_RE.match(line)
        if not m:
            raise PromError(f"line {lineno}: bad metric name in {line!r}")
        sname, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i, lineno)
        rest = line[i:]
        if not rest[:1] in (" ", "\t"):
            raise PromError(f"line {lineno}: no whitespace before value in {line!r}")
        fields = rest.split()
        if not 1 <= len(fields) <= 2:
            raise PromError(f"line {lineno}: expected value [timestamp] in {line!r}")
        if not _VALUE_RE.fullmatch(fields[0]):
            raise PromError(f"line {lineno}: bad value {fields[0]!r}")
        if len(fields) == 2 and not _TS_RE.fullmatch(fields[1]):
            raise PromError(f"line {lineno}: bad timestamp {fields[1]!r}")
        value = float(fields[0])
        fam = _family_of(sname, families)
        if fam != current:
            if fam in finished:
                raise PromError(f"line {lineno}: samples of {fam} are not contiguous")
            if current is not None:
                finished.add(current)
            current = fam
        series = (sname, tuple(sorted(labels.items())))
        if series in seen_series:
            raise PromError(f"line {lineno}: duplicate series {sname}{labels}")
        seen_series.add(series)
        families.setdefault(fam, Family(fam)).samples.append((sname, labels, value))
    for f in families.values():
        if not f.samples:
            raise PromError(f"family {f.name} has HELP/TYPE but no samples")
    return families


# ---------------------------------------------------------------- running cases


class Runner:
    """Runs named cases, prints `ok NAME` / `FAIL NAME: reason`, and the
    final `N passed, M failed` line."""

    def __init__(self, server=None):
        self.server = server
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *args, alive_after=True):
        if self.server is not None and not self.server.alive():
            self.fail(name, f"server not running (exit code {self.server.proc.poll()})")
            return False
        try:
            fn(*args)
        except AssertionError as e:
            self.fail(name, str(e) or "assertion failed")
            return False
        except Exception as e:  # a timeout, reset or parse error is a failure too
            self.fail(name, f"{type(e).__name__}: {e}")
            return False
        if alive_after and self.server is not None and not self.server.alive():
            self.fail(name, f"server died during the case (exit code {self.server.proc.poll()})")
            return False
        self.passed += 1
        print(f"ok {name}", flush=True)
        return True

    def fail(self, name, reason):
        self.failed += 1
        reason = " ".join(str(reason).split("\n"))[:2000]
        print(f"FAIL {name}: {reason}", flush=True)

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1

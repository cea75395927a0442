#!/usr/bin/env python3
"""wrong_echo.py - an HTTP/1.1 server that echoes request bodies wrongly.

A test peer for fraglab-loadgen's response verification: POST /echo answers
200 with the request body, except that one byte is changed (byte N % len is
XORed with 1, N from --flip, default 0), so every non-empty echo must be
reported as a content mismatch, with the status and length still right.
Every other method or path answers 404 with a short body.

usage: wrong_echo.py --port P [--flip N] [--timeout S]

Listens on 127.0.0.1:P, one thread per connection, keep-alive (HTTP/1.1 by
default, HTTP/1.0 with "Connection: keep-alive"), "Connection: close"
honoured, requests answered one after another (pipelined bytes are simply
read on), bodies by Content-Length only (chunked uploads get 501 and a
close), "Expect: 100-continue" answered. Prints "ready" on stdout once
listening; exits 0 on SIGTERM or SIGINT, printing what it served on stderr.
Every socket operation has a timeout (--timeout, default 10 s); a
connection idle that long is closed. Python 3.11 standard library only.
"""

import argparse
import signal
import socket
import sys
import threading

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024
MAX_BODY = 16 << 20

stop = threading.Event()
lock = threading.Lock()
served = {"connections": 0, "requests": 0, "flipped": 0}


def count(key):
    with lock:
        served[key] += 1


class Conn:
    """One client connection: a socket and the bytes read but not used."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self):
        """Reads more bytes; False on EOF, reset or timeout."""
        try:
            chunk = self.sock.recv(256 * 1024)
        except OSError:  # socket.timeout is an OSError too
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_head(self):
        """The request head (without its final CRLF CRLF), or None when the
        connection ends first or the head is too long."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[:end + 4]
                return head
            if len(self.buf) > MAX_HEAD or not self.fill():
                return None

    def read_body(self, n):
        while len(self.buf) < n:
            if not self.fill():
                return None
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return body

    def send(self, data):
        """False if the peer is gone or does not read within the timeout."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False


def response(status, reason, body, close, ctype="text/plain"):
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            f"Content-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n")
    if close:
        head += "Connection: close\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def flipped(body, flip):
    """The body with byte flip % len XORed with 1 (an empty body stays)."""
    if not body:
        return body
    out = bytearray(body)
    out[flip % len(out)] ^= 1
    return bytes(out)


def parse_head(head):
    """(method, target, version, {lower-case name: value}) or None."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            return None
        key = name.decode("latin-1").lower()
        value = value.strip(b" \t").decode("latin-1")
        if key not in headers:
            headers[key] = value
        elif key == "content-length":
            if headers[key] != value:
                return None
        else:
            headers[key] += ", " + value
    return (parts[0].decode("latin-1"), parts[1].decode("latin-1"),
            parts[2].decode("latin-1"), headers)


def wants_close(version, headers):
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if "close" in tokens:
        return True
    return version == "HTTP/1.0" and "keep-alive" not in tokens


def serve_one(c, flip):
    """Answers one request; False when the connection should end."""
    head = c.read_head()
    if head is None:
        return False
    req = parse_head(head)
    if req is None:
        c.send(response(400, "Bad Request", b"bad request\n", True))
        return False
    method, target, version, headers = req
    close = wants_close(version, headers)
    if "transfer-encoding" in headers:
        c.send(response(501, "Not Implemented", b"chunked bodies are not supported\n", True))
        return False
    length = headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY:
        c.send(response(400, "Bad Request", b"bad content-length\n", True))
        return False
    if int(length) and headers.get("expect", "").lower() == "100-continue":
        if not c.send(b"HTTP/1.1 100 Continue\r\n\r\n"):
            return False
    body = c.read_body(int(length))
    if body is None:
        return False
    count("requests")
    if method == "POST" and target.split("?", 1)[0] == "/echo":
        out = flipped(body, flip)
        if body:
            count("flipped")
        data = response(200, "OK", out, close, "application/octet-stream")
    else:
        data = response(404, "Not Found", b"not found\n", close)
    return c.send(data) and not close


def handle(sock, flip, timeout):
    count("connections")
    sock.settimeout(timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(sock)
        while not stop.is_set() and serve_one(c, flip):
            pass
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--flip", type=int, default=0,
                    help="byte N %% len of each echoed body is XORed with 1 (default 0)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds for any one socket operation (default 10)")
    opt = ap.parse_args()
    if not 1 <= opt.port <= 65535:
        ap.error(f"--port must be 1..65535, got {opt.port}")
    if opt.flip < 0 or opt.timeout <= 0:
        ap.error("--flip must be >= 0 and --timeout > 0")

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        ls.bind((HOST, opt.port))
    except OSError as e:
        print(f"wrong_echo: bind {HOST}:{opt.port}: {e.strerror}", file=sys.stderr)
        return 1
    ls.listen(512)
    # Short accept timeout: the loop notices a stop request within 0.2 s.
    ls.settimeout(0.2)
    print("ready", flush=True)
    while not stop.is_set():
        try:
            sock, _ = ls.accept()
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        except OSError as e:  # EMFILE and the like: back off, keep serving
            print(f"wrong_echo: accept: {e}", file=sys.stderr)
            stop.wait(0.1)
            continue
        threading.Thread(target=handle, args=(sock, opt.flip, opt.timeout), daemon=True).start()
    ls.close()
    with lock:
        print(f"wrong_echo: {served['connections']} connections, {served['requests']} requests, "
              f"{served['flipped']} echoes changed", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

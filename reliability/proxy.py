"""A fault-injecting HTTP proxy on loopback, between boto3 and ``moto_server``.

A share ``rate`` of requests is answered with an error instead of being forwarded: for S3,
``503 SlowDown`` or ``500 InternalError``; for DynamoDB, ``400 ThrottlingException``,
``500 InternalServerError`` or ``503 ServiceUnavailable``, in the bodies AWS sends. The rest are
forwarded unchanged. With ``after_share``, that share of the faulted writes (PUT/POST, not
S3 conditional puts) is forwarded first and then answered ``500``: the write applied, its answer
lost, so the client's retry meets its own write. Seeded, so a run's faults are reproducible
for the same request order.
Nothing in the project is patched: boto3 simply talks to this endpoint.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "content-length"}
S3_FAULTS = (
    (503, "SlowDown", "Please reduce your request rate."),
    (500, "InternalError", "We encountered an internal error. Please try again."),
)
DYNAMO_FAULTS = (
    (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    (500, "InternalServerError", "Internal server error"),
    (503, "ServiceUnavailable", "Service unavailable"),
)


class FaultProxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, rate: float, seed: int, after_share: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rate = rate
        self.after_share = after_share  # of the faults: forwarded first (the write applied)
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def draw(self) -> float:
        with self.lock:
            return self.random.random()

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1


class _Handler(BaseHTTPRequestHandler):
    server: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        dynamo = "DynamoDB" in self.headers.get("X-Amz-Target", "")
        self.server.count("requests")
        if self.server.draw() < self.server.rate:
            conditional_s3 = not dynamo and "If-None-Match" in self.headers
            if (
                self.server.after_share
                and self.server.draw() < self.server.after_share
                and (self.command in ("PUT", "POST") and not conditional_s3)
            ):
                self._forward(body, answer=False)  # applied upstream, the answer lost
                self.server.count("applied, then answered 500")
                self._fault(dynamo, status=(500, "InternalError", "Internal error"))
                return
            self._fault(dynamo)
            return
        self._forward(body)

    def _forward(self, body: bytes, *, answer: bool = True) -> None:
        connection = http.client.HTTPConnection(*self.server.upstream, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            if not answer:
                return
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            connection.close()

    def _fault(self, dynamo: bool, status: tuple[int, str, str] | None = None) -> None:
        faults = DYNAMO_FAULTS if dynamo else S3_FAULTS
        chosen = status or faults[int(self.server.draw() * len(faults))]
        status_code, code, message = chosen
        if status is None:
            self.server.count(f"{'dynamodb' if dynamo else 's3'} {status_code} {code}")
        self.send_response(status_code)
        if dynamo:
            data = (
                f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}'
            ).encode()
            kind = "application/x-amz-json-1.0"
        else:
            data = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>"
            ).encode()
            kind = "application/xml"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@contextmanager
def fault_proxy(
    upstream: str, *, rate: float = 0.2, seed: int = 0, after_share: float = 0.0
) -> Iterator[FaultProxy]:
    """Run the proxy in a thread for the ``with`` block; yields it (``.endpoint``, ``.counts``)."""
    proxy = FaultProxy(upstream, rate, seed, after_share)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()

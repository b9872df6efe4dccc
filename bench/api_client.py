"""API clients of the benchmarks: threads, each with its own keep-alive
connection and a Bearer key, on one server or spread over several.

A request refused for a transient reason (409 other than an idempotency
conflict, 429, 502-504, a dropped connection) is sent again as it was (same
idempotency key) and counted as a retry; after 8 attempts the client gives up
(counted too)."""

import http.client
import json
import random
import threading
import time

from .stats import percentile

RETRY_STATUSES = {409, 429, 502, 503, 504}


def new_stats():
    return {
        "latencies": [],
        "statuses": {},
        "retries": 0,
        "gave_up": 0,
        "errors": [],
        "answers": [],
    }


def _error_code(data):
    try:
        payload = json.loads(data or b"{}")
    except ValueError:
        return ""
    error = payload.get("error") if isinstance(payload, dict) else None
    return (error.get("code") or "") if isinstance(error, dict) else ""


class Client:
    """One keep-alive connection to ``server`` with the Bearer ``key``.

    ``backoff``: a retry waits a random time up to ``backoff`` seconds times the
    attempt's number (none when 0); ``label_codes``: a refusal is counted under
    its status and error code (``"409 idempotency_conflict"``), else under its
    status alone."""

    def __init__(self, server, key, backoff=0.0, label_codes=False):
        self.server = server
        self.backoff, self.label_codes = backoff, label_codes
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        }
        self.conn = None

    def call(self, method, path, body, stats):
        """The request, retried as said above; returns (status, body bytes)."""
        for attempt in range(8):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.server.port, timeout=120
                )
            t0 = time.perf_counter()
            try:
                status, data = self.server.request(
                    method, path, body, self.headers, conn=self.conn
                )
            except (OSError, http.client.HTTPException):
                self.close()
                stats["retries"] += 1
                continue
            stats["latencies"].append((time.perf_counter() - t0) * 1000.0)
            code = _error_code(data) if status >= 400 else ""
            if status in RETRY_STATUSES and code != "idempotency_conflict":
                stats["retries"] += 1
                if self.backoff:
                    time.sleep(random.uniform(0, self.backoff * (attempt + 1)))
                continue
            label = f"{status} {code}" if self.label_codes and code else str(status)
            stats["statuses"][label] = stats["statuses"].get(label, 0) + 1
            if status >= 500:
                stats["errors"].append(data[:300].decode(errors="replace"))
            return status, data
        stats["gave_up"] += 1
        return None, b""

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def merge(all_stats):
    merged = new_stats()
    for s in all_stats:
        for name in ("latencies", "errors", "answers"):
            merged[name] += s[name]
        for name in ("retries", "gave_up"):
            merged[name] += s[name]
        for k, v in s["statuses"].items():
            merged["statuses"][k] = merged["statuses"].get(k, 0) + v
    return merged


def parallel(servers, key, clients, work, **client_options):
    """``work(client, index, stats)`` in ``clients`` threads, started together,
    client ``i`` on ``servers[i % len(servers)]``; returns the merged stats and
    the seconds from the first thread's start to the last one's end."""
    stats = [new_stats() for _i in range(clients)]
    barrier = threading.Barrier(clients)

    def run(i):
        client = Client(servers[i % len(servers)], key, **client_options)
        barrier.wait()
        work(client, i, stats[i])
        client.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return merge(stats), time.perf_counter() - t0


def each_request(per_client, make_request):
    """The work of a client: ``per_client`` requests ``make_request(i, j)`` ->
    (method, path, body), each answer kept as (status, body sent, body got)."""

    def work(client, i, stats):
        for j in range(per_client):
            method, path, body = make_request(i, j)
            status, data = client.call(method, path, body, stats)
            stats["answers"].append((status, body, data))

    return work


def rates(stats, seconds):
    """Requests per second and latency percentiles (ms), not rounded."""
    return {
        "requests": len(stats["latencies"]),
        "requests_per_second": len(stats["latencies"]) / seconds if seconds else None,
        "p50_ms": percentile(stats["latencies"], 50) or 0,
        "p95_ms": percentile(stats["latencies"], 95) or 0,
    }

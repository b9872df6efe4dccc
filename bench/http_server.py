"""A real ``odoo-bin`` with prefork workers on a free local port, for the API
benchmarks (``api_bench``, ``api_floor``) and the scale-out test (``scale``)."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SERVER_SCRIPT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "odoo_server.py"
)


class NotAvailable(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OdooServer:
    """odoo-bin (without its long-polling process, see odoo_server.py) with
    prefork workers on a free port, for the duration of a block.

    ``args``: more command-line options (database host, cron workers, log
    handlers); ``env``: more environment variables; ``log_path``: where its log
    goes (a temporary file, removed on exit, when not given). On exit,
    ``log_counts`` says what the log holds."""

    def __init__(
        self, conf, db, workers=4, args=(), env=None, log_path=None, name="odoo"
    ):
        self.conf, self.db, self.workers, self.name = conf, db, workers, name
        self.args, self.env = list(args), dict(env or {})
        self.port = free_port()
        self.own_log = log_path is None
        if self.own_log:
            fd, log_path = tempfile.mkstemp(prefix="bench-odoo-", suffix=".log")
            os.close(fd)
        self.log_path = log_path
        self.log = None
        self.proc = None
        self.log_counts = {}

    def __enter__(self):
        import odoo

        env = dict(os.environ, **self.env)
        odoo_dir = os.path.dirname(os.path.dirname(odoo.__file__))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (odoo_dir, env.get("PYTHONPATH")) if p
        )
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [
                sys.executable,
                SERVER_SCRIPT,
                "-c",
                self.conf,
                "-d",
                self.db,
                f"--http-port={self.port}",
                "--http-interface=127.0.0.1",
                f"--workers={self.workers}",
                "--max-cron-threads=0",
                "--limit-time-real=600",
                "--limit-time-cpu=600",
                "--limit-request=100000",
                "--log-level=warn",
                *self.args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"odoo-bin {self.name} exited: {self.tail()}")
            try:
                status, _body = self.request("GET", "/web/health")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"odoo-bin {self.name} did not answer: {self.tail()}")

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(
                method,
                path,
                body=json.dumps(body) if body is not None else None,
                headers=headers or {},
            )
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            if own:
                conn.close()

    def text(self):
        """The log so far."""
        if self.log and not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def tail(self):
        return self.text()[-3000:]

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        text = self.text()
        # Odoo retries a transaction that hit a serialization failure (two
        # requests on the same rows) and logs each failed attempt
        self.log_counts = {
            "serialization_failures_retried_by_odoo": text.count(
                "could not serialize access"
            ),
            "tracebacks": text.count("Traceback (most recent call last)"),
        }
        self.log.close()
        if self.own_log:
            os.unlink(self.log_path)

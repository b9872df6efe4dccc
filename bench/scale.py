"""(6) Scale-out on Odoo's own machinery: a streaming replica and two servers.

On this one machine, started and removed by the run itself:

- a PostgreSQL **primary** of its own (``initdb``, a free port) holding a copy
  of the benchmark database (``pg_dump`` | ``pg_restore``): the shared server
  of the machine is not reconfigured;
- a **streaming replica** of it: ``pg_basebackup -R -X stream`` then a hot
  standby on another port;
- two ``odoo-bin`` servers with prefork workers and a cron worker each, both on
  the primary, with ``--db_replica_host/--db_replica_port`` pointing at the
  replica: Odoo serves read-only routes (member lookup, history) from the
  replica and everything else from the primary.

What it proves, with figures:

- reads reach the replica: index scans of ``loyalty_card`` counted by each
  PostgreSQL instance (``pg_stat_user_tables``) during a lookup-only phase:
  the replica's grow by the number of lookups, the primary's do not; the
  replica's ``pg_stat_activity`` shows the two servers' connections
  (``application_name``);
- writes reach the primary: the ledger rows of the accrual phase are inserted
  on the primary (``n_tup_ins``) and visible on the replica after replay;
- no double spend and no lost accrual across the two servers: redemptions
  on one card through both servers pay exactly what the card holds; every
  accrual, each sent to both servers at once under one idempotency key, is
  in the ledger exactly once;
- each cron runs once across the servers: jobs triggered while both cron
  workers wait are run once each (the servers' logs, ``Job ... done``);
- throughput of one server and of two, the same mix of lookups and accruals.
"""

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from .api_bench import BASE, SERVER_SCRIPT, _cards, _top_up, api_key
from .api_floor import _Client
from .stats import percentile

PG_BIN = os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin")
CRONS = (
    "loyalty_crm.ir_cron_loyalty_ledger_reconcile",
    "loyalty_crm.ir_cron_loyalty_release_pending",
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NotAvailable(Exception):
    pass


class Postgres:
    """A primary and its streaming replica, in a temporary folder; removed on exit.

    PostgreSQL refuses to run as root: when this runs as root, the servers run
    as the ``postgres`` system user."""

    def __init__(self, work):
        self.work = work
        self.primary_dir = os.path.join(work, "primary")
        self.replica_dir = os.path.join(work, "replica")
        self.primary_port = _free_port()
        self.replica_port = _free_port()
        self.user = os.environ.get("PGUSER") or pwd.getpwuid(os.getuid()).pw_name
        self.started = []

    def _as_pg(self, args, **kwargs):
        prefix = []
        if os.getuid() == 0:
            prefix = ["runuser", "-u", "postgres", "--"]
        return subprocess.run(
            prefix + args, check=True, capture_output=True, text=True, **kwargs
        )

    def _start(self, data_dir, port):
        self._as_pg(
            [
                f"{PG_BIN}/pg_ctl",
                "-D",
                data_dir,
                "-l",
                os.path.join(data_dir, "server.log"),
                "-w",
                "-t",
                "120",
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 "
                f"-c unix_socket_directories={self.work}",
                "start",
            ]
        )
        self.started.append(data_dir)

    def __enter__(self):
        if not os.path.exists(f"{PG_BIN}/initdb"):
            raise NotAvailable(f"no PostgreSQL binaries in {PG_BIN}")
        if os.getuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")
        self._as_pg(
            [
                f"{PG_BIN}/initdb",
                "-D",
                self.primary_dir,
                "-U",
                self.user,
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        with open(os.path.join(self.primary_dir, "postgresql.auto.conf"), "a") as f:
            f.write(
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 128MB\n"
                "track_counts = on\n"
            )
        self._start(self.primary_dir, self.primary_port)
        return self

    def replicate(self):
        """The replica: a base backup of the primary, then a hot standby
        streaming from it."""
        self._as_pg(
            [
                f"{PG_BIN}/pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary_port),
                "-U",
                self.user,
                "-D",
                self.replica_dir,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ]
        )
        self._start(self.replica_dir, self.replica_port)

    def __exit__(self, *exc):
        for data_dir in reversed(self.started):
            with contextlib.suppress(subprocess.CalledProcessError):
                self._as_pg(
                    [f"{PG_BIN}/pg_ctl", "-D", data_dir, "-m", "fast", "-w", "stop"]
                )
        shutil.rmtree(self.work, ignore_errors=True)

    def psql(self, port, db, sql):
        out = subprocess.run(
            [
                f"{PG_BIN}/psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                self.user,
                "-d",
                db,
                "-AtX",
                "-F",
                "\t",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class OdooServer:
    """odoo-bin with prefork workers and a cron worker, on the private primary
    and its replica."""

    def __init__(self, name, conf, db, pg, work, workers=2):
        self.name, self.conf, self.db, self.pg = name, conf, db, pg
        self.port = _free_port()
        self.workers = workers
        self.log_path = os.path.join(work, f"odoo-{name}.log")
        self.proc = None

    def __enter__(self):
        import odoo

        env = dict(os.environ)
        odoo_dir = os.path.dirname(os.path.dirname(odoo.__file__))
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (odoo_dir, env.get("PYTHONPATH")) if p
        )
        env["ODOO_PGAPPNAME"] = f"odoo-{self.name}-{{pid}}"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [
                sys.executable,
                SERVER_SCRIPT,
                "-c",
                self.conf,
                "-d",
                self.db,
                "--db_host=127.0.0.1",
                f"--db_port={self.pg.primary_port}",
                "--db_replica_host=127.0.0.1",
                f"--db_replica_port={self.pg.replica_port}",
                f"--http-port={self.port}",
                "--http-interface=127.0.0.1",
                f"--workers={self.workers}",
                "--max-cron-threads=1",
                "--limit-time-real=600",
                "--limit-time-cpu=600",
                "--limit-request=100000",
                "--log-level=warn",
                "--log-handler=odoo.addons.base.models.ir_cron:INFO",
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
        import http.client

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
        self.log.close()


def _copy_database(src_conf_db, pg, db):
    """The benchmark database, copied onto the private primary."""
    dump = subprocess.Popen(
        ["pg_dump", "-Fc", "-d", src_conf_db], stdout=subprocess.PIPE
    )
    subprocess.run(
        [
            f"{PG_BIN}/createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(pg.primary_port),
            "-U",
            pg.user,
            db,
        ],
        check=True,
    )
    subprocess.run(
        [
            f"{PG_BIN}/pg_restore",
            "-h",
            "127.0.0.1",
            "-p",
            str(pg.primary_port),
            "-U",
            pg.user,
            "-d",
            db,
            "--no-owner",
        ],
        stdin=dump.stdout,
        check=True,
        capture_output=True,
    )
    dump.wait()
    # no job runs by its schedule during the test: only the triggered ones
    pg.psql(
        pg.primary_port,
        db,
        "UPDATE ir_cron SET nextcall = now() at time zone 'utc' + interval '1 year';"
        " DELETE FROM ir_cron_trigger; ANALYZE",
    )


def _scans(pg, port, db):
    """Index scans of the card and ledger tables, rows inserted in the ledger.

    An idle PostgreSQL backend publishes its table statistics up to 10 seconds
    later: wait that long first, so that the figures include the last requests."""
    time.sleep(11)
    rows = pg.psql(
        port,
        db,
        "SELECT relname, COALESCE(idx_scan, 0), n_tup_ins FROM pg_stat_user_tables"
        " WHERE relname IN ('loyalty_card', 'loyalty_ledger')",
    )
    return {name: (int(scans), int(ins)) for name, scans, ins in rows}


def _wait_replayed(pg, db, timeout=60):
    """Until the replica has replayed everything the primary wrote."""
    [[lsn]] = pg.psql(pg.primary_port, db, "SELECT pg_current_wal_lsn()")
    deadline = time.time() + timeout
    while time.time() < deadline:
        [[done]] = pg.psql(
            pg.replica_port,
            db,
            f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn",
        )
        if done == "t":
            return True
        time.sleep(0.2)
    return False


def _spread(servers, key, clients, per_client, make_request):
    """``clients`` threads, client ``i`` on server ``i % len(servers)``."""
    stats = [
        {"latencies": [], "statuses": {}, "retries": 0, "gave_up": 0, "answers": []}
        for _i in range(clients)
    ]
    barrier = threading.Barrier(clients)

    def run(i):
        client = _Client(servers[i % len(servers)], key)
        barrier.wait()
        for j in range(per_client):
            method, path, body = make_request(i, j)
            status, data = client.call(method, path, body, stats[i])
            stats[i]["answers"].append((status, body, data))
        client.conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    merged = {"latencies": [], "statuses": {}, "retries": 0, "answers": []}
    for s in stats:
        merged["latencies"] += s["latencies"]
        merged["retries"] += s["retries"]
        merged["answers"] += s["answers"]
        for k, v in s["statuses"].items():
            merged["statuses"][str(k)] = merged["statuses"].get(str(k), 0) + v
    merged["seconds"] = seconds
    merged["requests_per_second"] = round(len(merged["latencies"]) / seconds, 1)
    merged["p50_ms"] = round(percentile(merged["latencies"], 50) or 0, 1)
    merged["p95_ms"] = round(percentile(merged["latencies"], 95) or 0, 1)
    return merged


def _summary(stats):
    return {
        k: stats[k]
        for k in ("requests_per_second", "p50_ms", "p95_ms", "statuses", "retries")
    }


def _db_conf(conf, work):
    """The benchmark's Odoo config without its database settings (the servers
    get theirs on the command line)."""
    path = os.path.join(work, "odoo-scale.conf")
    with open(conf) as src, open(path, "w") as dst:
        for line in src:
            if not re.match(r"\s*(db_host|db_port|db_name|dbfilter)\s*=", line):
                dst.write(line)
    return path


def run(registry, env_factory, conf, db, clients=8, requests=400, workers=2):
    key = api_key(registry, env_factory)
    cards = _cards(registry, env_factory, clients * 20 + 1)
    one, distinct = cards[0], cards[1:]
    payable = requests * 3 // 4 // 4  # redemptions of 5 points the card can pay
    _top_up(registry, env_factory, one[0], 5.0 * payable)
    work = tempfile.mkdtemp(prefix="loyalty_crm_scale.")
    os.chmod(work, 0o755)  # noqa: S103 - PostgreSQL's own user must reach pg/
    pg_work = os.path.join(work, "pg")
    os.makedirs(pg_work)
    scale_db = f"{db}_scale"
    result = {"clients": clients, "workers_per_server": workers}
    try:
        with Postgres(pg_work) as pg:
            t0 = time.perf_counter()
            _copy_database(db, pg, scale_db)
            pg.replicate()
            result["setup_seconds"] = round(time.perf_counter() - t0, 1)
            server_conf = _db_conf(conf, work)
            with (
                OdooServer("A", server_conf, scale_db, pg, work, workers) as a,
                OdooServer("B", server_conf, scale_db, pg, work, workers) as b,
            ):
                result.update(
                    _measure(
                        pg,
                        scale_db,
                        [a, b],
                        key,
                        one,
                        distinct,
                        clients,
                        requests,
                        payable,
                    )
                )
                logs = {s.name: s.text() for s in (a, b)}
            result["server_log"] = {
                name: {
                    "errors": len(re.findall(r"^\S+ \S+ \d+ ERROR ", text, re.M)),
                    "serialization_failures": text.count("could not serialize"),
                }
                for name, text in logs.items()
            }
            result["crons"] = _crons_once_counts(logs, result.pop("_cron_names"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    checks = result["checks"] = {
        "reads on the replica": result["reads"]["replica_card_index_scans"]
        >= result["reads"]["lookups"]
        and result["reads"]["primary_card_index_scans"] == 0,
        "writes on the primary": result["writes"]["replica_read_only"]
        and result["writes"]["entries_on_primary"]
        == result["writes"]["accruals_answered_201"]
        == result["writes"]["entries_on_replica_after_replay"],
        "no double spend": result["one card"]["paid"] == payable
        and result["one card"]["balance_left"] == 0,
        "no lost or doubled accrual": result["accruals"]["lost"] == 0
        and result["accruals"]["posted_twice"] == 0,
        "each cron once": all(
            c["runs_total"] == c["triggers"] for c in result["crons"].values()
        ),
    }
    result["passed"] = all(checks.values())
    return result


class _Scenario:
    """The phases of the test, on the two servers ``a`` and ``b``."""

    def __init__(self, pg, db, servers, key, one, distinct, clients, requests):
        self.pg, self.db, self.servers, self.key = pg, db, servers, key
        self.one, self.distinct, self.clients = one, distinct, clients
        self.per_client = max(requests // clients, 1)
        self.tag = f"scale-{uuid.uuid4().hex[:8]}"

    def lookup(self, i, j):
        code = self.distinct[(i * self.per_client + j) % len(self.distinct)][1]
        return "GET", f"{BASE}/members/lookup?card={code}", None

    def accrual(self, i, j, key=None):
        code = self.distinct[(i * self.per_client + j) % len(self.distinct)][1]
        return {
            "card": code,
            "amount": 100.0 + j,
            "idempotency_key": key or f"{self.tag}-{i}-{j}",
        }

    def reads(self):
        """Lookups only: the card index is scanned on the replica, not the primary."""
        pg, db = self.pg, self.db
        # warm both servers' workers (registry, caches), then count scans
        _spread(self.servers, self.key, self.clients, 4, self.lookup)
        _wait_replayed(pg, db)
        ports = (pg.primary_port, pg.replica_port)
        before = {p: _scans(pg, p, db) for p in ports}
        stats = _spread(
            self.servers, self.key, self.clients, self.per_client, self.lookup
        )
        after = {p: _scans(pg, p, db) for p in ports}
        activity = pg.psql(
            pg.replica_port,
            db,
            "SELECT regexp_replace(application_name, '-[0-9]+$', ''), COUNT(*)"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE 'odoo-%' GROUP BY 1 ORDER BY 1",
        )
        return {
            "lookups": len(stats["latencies"]),
            "answers": stats["statuses"],
            "replica_card_index_scans": after[pg.replica_port]["loyalty_card"][0]
            - before[pg.replica_port]["loyalty_card"][0],
            "primary_card_index_scans": after[pg.primary_port]["loyalty_card"][0]
            - before[pg.primary_port]["loyalty_card"][0],
            "replica_connections_by_server": {name: int(n) for name, n in activity},
        }

    def accruals(self):
        """Each accrual sent to both servers at once under one key: posted once,
        one answer 201 and the other 200 (the replay)."""
        pg, db = self.pg, self.db
        before = _scans(pg, pg.primary_port, db)
        bodies = [
            [self.accrual(i, j) for j in range(self.per_client // 2)]
            for i in range(self.clients)
        ]
        answers = []
        lock = threading.Lock()

        def send_both(i):
            pair = [_Client(server, self.key) for server in self.servers]
            stats = [
                {"latencies": [], "statuses": {}, "retries": 0, "gave_up": 0}
                for _k in (0, 1)
            ]
            for body in bodies[i]:
                got = [None, None]

                def one_side(k, body=body, got=got):
                    got[k] = pair[k].call("POST", f"{BASE}/accruals", body, stats[k])

                sides = [threading.Thread(target=one_side, args=(k,)) for k in (0, 1)]
                for t in sides:
                    t.start()
                for t in sides:
                    t.join()
                with lock:
                    answers.append((body, got))

        threads = [
            threading.Thread(target=send_both, args=(i,)) for i in range(self.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = _scans(pg, pg.primary_port, db)
        posted = {
            k: int(n)
            for k, n in pg.psql(
                pg.primary_port,
                db,
                "SELECT r.idempotency_key, COUNT(l.id) FROM loyalty_api_request r"
                " LEFT JOIN loyalty_ledger l ON l.idempotency_key"
                "  = 'api/' || r.user_id || '/' || r.idempotency_key"
                f" WHERE r.idempotency_key LIKE '{self.tag}-%' GROUP BY 1",
            )
        }
        statuses = [sorted(s for s, _d in got) for _body, got in answers]
        counts = [posted.get(body["idempotency_key"], 0) for body, _got in answers]
        accruals = {
            "sent_to_both_servers": len(answers),
            "posted_once": counts.count(1),
            "lost": sum(
                n != 1 or st != [200, 201]
                for n, st in zip(counts, statuses, strict=True)
            ),
            "posted_twice": sum(n > 1 for n in counts),
        }
        replayed = _wait_replayed(pg, db)
        count = (
            "SELECT COUNT(*) FROM loyalty_ledger WHERE idempotency_key LIKE"
            f" 'api/%/{self.tag}-%'"
        )
        [[on_replica]] = pg.psql(pg.replica_port, db, count)
        [[recovery]] = pg.psql(pg.replica_port, db, "SELECT pg_is_in_recovery()")
        writes = {
            "accruals_answered_201": sum(201 in st for st in statuses),
            "entries_on_primary": sum(counts),
            "entries_on_replica_after_replay": int(on_replica),
            "replayed_on_replica": replayed,
            "replica_read_only": recovery == "t",
            "primary_ledger_rows_inserted": after["loyalty_ledger"][1]
            - before["loyalty_ledger"][1],
        }
        return accruals, writes

    def one_card(self, payable):
        """Redemptions on one card through both servers: exactly what it holds."""

        def redemption(i, j):
            body = {
                "card": self.one[1],
                "points": 5.0,
                "order_amount": 100.0,
                "idempotency_key": f"{self.tag}-r-{i}-{j}",
            }
            return "POST", f"{BASE}/redemptions", body

        per_client = max(payable * 4 // 3 // self.clients, 1)
        stats = _spread(self.servers, self.key, self.clients, per_client, redemption)
        [[balance]] = self.pg.psql(
            self.pg.primary_port,
            self.db,
            f"SELECT points FROM loyalty_card WHERE id = {int(self.one[0])}",
        )
        return {
            "payable": payable,
            "sent": per_client * self.clients,
            "paid": stats["statuses"].get("201", 0),
            "refused": stats["statuses"].get("422", 0),
            "retries": stats["retries"],
            "balance_left": float(balance),
        }

    def throughput(self):
        """The same mix (3 lookups, 1 accrual) on one server, then on two."""

        def mix(i, j):
            if j % 4 == 3:
                key = f"{self.tag}-mix-{uuid.uuid4()}"
                return "POST", f"{BASE}/accruals", self.accrual(i, j, key)
            return self.lookup(i, j)

        one = _spread(self.servers[:1], self.key, self.clients, self.per_client, mix)
        two = _spread(self.servers, self.key, self.clients, self.per_client, mix)
        return {"one server": _summary(one), "two servers": _summary(two)}

    def crons(self, triggers=3):
        """Trigger each job a few times while both cron workers wait."""
        names = {}
        for xmlid in CRONS:
            module, name = xmlid.split(".")
            [[cron_id, cron_name]] = self.pg.psql(
                self.pg.primary_port,
                self.db,
                "SELECT c.id, c.cron_name FROM ir_cron c"
                " JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id"
                f" WHERE d.module = '{module}' AND d.name = '{name}'",
            )
            names[xmlid] = {"id": cron_id, "name": cron_name, "triggers": triggers}
        values = ", ".join(
            f"({c['id']}, now() at time zone 'utc')" for c in names.values()
        )
        for _n in range(triggers):
            self.pg.psql(
                self.pg.primary_port,
                self.db,
                f"INSERT INTO ir_cron_trigger (cron_id, call_at) VALUES {values}",
            )
            # wake the cron workers as Odoo does (they listen on "postgres")
            self.pg.psql(
                self.pg.primary_port, "postgres", f"NOTIFY cron_trigger, '{self.db}'"
            )
            time.sleep(10)  # every triggered job done before the next trigger
        return names


def _measure(pg, db, servers, key, one, distinct, clients, requests, payable):
    scenario = _Scenario(pg, db, servers, key, one, distinct, clients, requests)
    out = {"reads": scenario.reads()}
    out["accruals"], out["writes"] = scenario.accruals()
    out["one card"] = scenario.one_card(payable)
    out["throughput"] = scenario.throughput()
    out["_cron_names"] = scenario.crons()
    return out


def _crons_once_counts(logs, names):
    result = {}
    for xmlid, cron in names.items():
        pattern = re.compile(rf"Job .* \({cron['id']}\) done in")
        runs = {server: len(pattern.findall(text)) for server, text in logs.items()}
        result[xmlid] = {
            "triggers": cron["triggers"],
            "runs_by_server": runs,
            "runs_total": sum(runs.values()),
        }
    return result

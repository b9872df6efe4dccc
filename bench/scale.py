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
import datetime
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

from .api_bench import BASE, _cards, _top_up, api_key
from .api_client import Client, each_request, new_stats, parallel, rates
from .http_server import NotAvailable, OdooServer, free_port

PG_BIN = os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin")
CRONS = (
    "loyalty_crm.ir_cron_loyalty_ledger_reconcile",
    "loyalty_crm.ir_cron_loyalty_release_pending",
)


class Postgres:
    """A primary and its streaming replica, in a temporary folder; removed on exit.

    PostgreSQL refuses to run as root: when this runs as root, the servers run
    as the ``postgres`` system user."""

    def __init__(self, work):
        self.work = work
        self.primary_dir = os.path.join(work, "primary")
        self.replica_dir = os.path.join(work, "replica")
        self.primary_port = free_port()
        self.replica_port = free_port()
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


def _odoo_server(name, conf, db, pg, work, workers):
    """odoo-bin with prefork workers and a cron worker, on the private primary
    and its replica; its log says which worker (pid) answered each request."""
    return OdooServer(
        conf,
        db,
        workers,
        name=name,
        log_path=os.path.join(work, f"odoo-{name}.log"),
        env={"ODOO_PGAPPNAME": f"odoo-{name}-{{pid}}"},
        args=[
            "--db_host=127.0.0.1",
            f"--db_port={pg.primary_port}",
            "--db_replica_host=127.0.0.1",
            f"--db_replica_port={pg.replica_port}",
            "--max-cron-threads=1",
            "--log-handler=odoo.addons.base.models.ir_cron:INFO",
            "--log-handler=werkzeug:INFO",
        ],
    )


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
    # the insert position: with synchronous_commit off, a commit's record may
    # not be written out yet (the write position may be before it)
    [[lsn]] = pg.psql(pg.primary_port, db, "SELECT pg_current_wal_insert_lsn()")
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
    stats, seconds = parallel(
        servers, key, clients, each_request(per_client, make_request)
    )
    figures = rates(stats, seconds)
    stats["seconds"] = seconds
    stats["requests_per_second"] = round(figures["requests_per_second"], 1)
    stats["p50_ms"] = round(figures["p50_ms"], 1)
    stats["p95_ms"] = round(figures["p95_ms"], 1)
    return stats


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
                _odoo_server("A", server_conf, scale_db, pg, work, workers) as a,
                _odoo_server("B", server_conf, scale_db, pg, work, workers) as b,
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
                        env_factory,
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
        **_revocation_checks(result["revocation"]),
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
            pair = [Client(server, self.key) for server in self.servers]
            stats = [new_stats() for _k in (0, 1)]
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

    def probe(self, key, per_client=8):
        """Requests with ``key`` on each server in turn, ``2 * workers`` clients:
        lookups (read on the replica) and accruals (on the primary), each on a
        new connection (Odoo's workers close it after the answer), so that every
        worker serves its share; the server's log says which worker answered."""

        def request(i, j):
            if j % 2:
                body = self.accrual(i, j, f"{self.tag}-probe-{uuid.uuid4()}")
                return "POST", f"{BASE}/accruals", body
            return self.lookup(i, j)

        out = {}
        for server in self.servers:
            start = len(server.text())
            stats = _spread([server], key, 2 * server.workers, per_client, request)
            out[server.name] = {
                "workers": server.workers,
                "statuses": stats["statuses"],
                "by_worker": _by_worker(server.text()[start:]),
            }
        return out

    def revocation(self, env_factory):
        """A second key of the API user, used by every worker of both servers
        (each keeps it in its ``ormcache``), then revoked as Odoo does
        (``_remove()``, committed, then the cleared cache signaled): every request
        with it must then be refused (401) by every worker. Likewise the API
        user archived (refused), then unarchived (accepted again). Last, a key
        revoked while the replica does not replay (paused): once the replica has
        caught up, every request with it must be refused."""
        pg, db = self.pg, self.db
        out = {}
        with _registry_on_primary(pg, db) as registry:

            def change(do):
                """As Odoo's request handling: committed, then signaled."""
                with (
                    registry.manage_changes(),
                    env_factory(registry, commit=True) as env,
                ):
                    return do(env)

            uid = change(
                lambda env: env["res.users"].search([("login", "=", "bench_api")]).id
            )

            def new_key(env):
                keys = env["res.users.apikeys"].with_user(uid).sudo()
                name = f"{self.tag} revocation {uuid.uuid4().hex[:6]}"
                expiry = datetime.datetime.now() + datetime.timedelta(days=1)
                key = keys._generate(None, name, expiry)
                return key, keys.search([("name", "=", name)]).id

            def revoke(key_id):
                change(lambda env: env["res.users.apikeys"].browse(key_id)._remove())

            def set_active(active):
                change(
                    lambda env: env["res.users"].browse(uid).write({"active": active})
                )

            key, key_id = change(new_key)
            _wait_replayed(pg, db)
            out["used"] = self.probe(key)
            revoke(key_id)
            _wait_replayed(pg, db)
            out["revoked"] = self.probe(key)
            set_active(False)
            _wait_replayed(pg, db)
            out["user archived"] = self.probe(self.key)
            set_active(True)
            _wait_replayed(pg, db)
            out["user unarchived"] = self.probe(self.key)
            # the replica lags: a key revoked on the primary is still on it
            key, key_id = change(new_key)
            _wait_replayed(pg, db)
            out["lag: used"] = self.probe(key)
            pg.psql(pg.replica_port, db, "SELECT pg_wal_replay_pause()")
            try:
                revoke(key_id)
                out["lag: revoked, replica not replayed"] = self.probe(key)
            finally:
                pg.psql(pg.replica_port, db, "SELECT pg_wal_replay_resume()")
            _wait_replayed(pg, db)
            out["lag: revoked, replica replayed"] = self.probe(key)
        return out


def _measure(
    pg, db, servers, key, one, distinct, clients, requests, payable, env_factory
):
    scenario = _Scenario(pg, db, servers, key, one, distinct, clients, requests)
    out = {"reads": scenario.reads()}
    out["accruals"], out["writes"] = scenario.accruals()
    out["one card"] = scenario.one_card(payable)
    out["throughput"] = scenario.throughput()
    out["_cron_names"] = scenario.crons()
    out["revocation"] = scenario.revocation(env_factory)
    return out


@contextlib.contextmanager
def _registry_on_primary(pg, db):
    """An Odoo registry, in this process, of the copy on the private primary, to
    change keys and users as a server does (ORM, then cache signaling).

    Odoo's connection settings are global: they name the primary while this
    registry is in use; the bench's own registry keeps its connections."""
    from odoo.modules.registry import Registry
    from odoo.sql_db import close_db
    from odoo.tools import config

    settings = {
        "db_host": "127.0.0.1",
        "db_port": pg.primary_port,
        "db_replica_host": False,
        "db_replica_port": False,
    }
    saved = {name: config.get(name) for name in settings}
    for name, value in settings.items():
        config[name] = value
    try:
        yield Registry(db)
    finally:
        Registry.delete(db)
        close_db(db)
        for name, value in saved.items():
            config[name] = value


# a request in a server's log (werkzeug, INFO): its worker's pid, path and status
_REQUEST_LOG = re.compile(
    r'^\S+ \S+ (\d+) INFO \S+ werkzeug: .*?"[A-Z]+ (\S+) [^"]*" (\d{3}) ', re.M
)


def _by_worker(log):
    """{pid: {status: requests}} of the API requests in a piece of a server's log."""
    workers = {}
    for pid, path, status in _REQUEST_LOG.findall(log):
        if path.startswith(BASE):
            counts = workers.setdefault(pid, {})
            counts[status] = counts.get(status, 0) + 1
    return workers


def _answered(probe, statuses):
    """Every request of the probe answered with one of ``statuses``, by every
    worker of each server."""
    return all(
        len(side["by_worker"]) == side["workers"]
        and set(side["statuses"]) <= statuses
        and all(set(counts) <= statuses for counts in side["by_worker"].values())
        for side in probe.values()
    )


def _same_workers(probe, before):
    """The workers that answered ``before`` answered the probe too."""
    return all(
        set(before[name]["by_worker"]) <= set(side["by_worker"])
        for name, side in probe.items()
    )


def _revocation_checks(probes):
    ok, refused = {"200", "201"}, {"401"}
    return {
        "revoked key refused by every worker": _answered(probes["used"], ok)
        and _answered(probes["revoked"], refused)
        and _same_workers(probes["revoked"], probes["used"]),
        "archived user refused, unarchived accepted": _answered(
            probes["user archived"], refused
        )
        and _answered(probes["user unarchived"], ok),
        "revoked key refused once the replica replayed": _answered(
            probes["lag: used"], ok
        )
        and _answered(probes["lag: revoked, replica replayed"], refused),
    }


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

"""``python -m bench``: generate data at scale and measure (see README, Benchmarks).

Sections: generate, lookup, crons, pos, api, floor, soak, kpi, scale. A section that
cannot run on this database says "not available" and why; no figure is ever made up.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback

from . import (
    api_bench,
    api_floor,
    crons,
    datagen,
    import_bench,
    kpi,
    lookup,
    pos,
    scale,
)
from .odoo_env import environment, load_registry

SECTIONS = ["lookup", "crons", "pos", "api", "floor", "soak", "kpi", "scale", "import"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine(env):
    env.cr.execute("SHOW server_version")
    pg = env.cr.fetchone()[0]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            )
        with open("/proc/meminfo") as f:
            mem_kb = int(
                next(line.split()[1] for line in f if line.startswith("MemTotal"))
            )
    except (OSError, StopIteration):
        mem_kb = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "python": platform.python_version(),
    }


def main():
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--conf", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--members", type=int, default=10000)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--out", default="")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pos-orders", type=int, default=1000)
    parser.add_argument("--soak", type=int, default=20000)
    parser.add_argument("--api-clients", type=int, default=8)
    parser.add_argument("--api-requests", type=int, default=400)
    parser.add_argument("--import-rows", type=int, default=100000)
    args = parser.parse_args()
    registry = load_registry(args.conf, args.db)
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "members": args.members,
        "sections": {},
    }
    with environment(registry) as env:
        result["machine"] = machine(env)
    result["machine"]["load_average_at_start"] = round(os.getloadavg()[0], 2)
    try:
        result["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        result["commit"] = ""

    if args.generate:
        t0 = time.perf_counter()
        with environment(registry, commit=True) as env:
            timings = datagen.generate(env, args.members)
        with environment(registry) as env:
            counts = datagen.check(env)
        result["data"] = dict(
            counts,
            generation_seconds=round(time.perf_counter() - t0, 1),
            steps={k: round(v, 1) for k, v in timings.items()},
        )
        print(
            f"Generated in {result['data']['generation_seconds']} s: {counts}",
            flush=True,
        )
    else:
        with environment(registry) as env:
            result["data"] = datagen.check(env)

    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    runners = {
        "lookup": lambda: lookup.run(registry, environment, runs=max(args.runs, 5)),
        "crons": lambda: crons.run(
            registry, environment, args.conf, args.db, ROOT, runs=args.runs
        ),
        "pos": lambda: pos.run(
            registry, environment, orders=args.pos_orders, runs=args.runs
        ),
        "api": lambda: api_bench.run(
            registry,
            environment,
            args.conf,
            args.db,
            clients=args.api_clients,
            requests_per_case=args.api_requests,
            runs=args.runs,
        ),
        "floor": lambda: api_floor.run(
            registry,
            environment,
            args.conf,
            args.db,
            clients=args.api_clients,
            requests_per_case=args.api_requests,
            runs=args.runs,
        ),
        "soak": lambda: api_bench.soak(
            registry,
            environment,
            args.conf,
            args.db,
            clients=args.api_clients,
            total=args.soak,
        ),
        "kpi": lambda: kpi.run(registry, environment, runs=args.runs),
        "scale": lambda: scale.run(
            registry,
            environment,
            args.conf,
            args.db,
            clients=args.api_clients,
            requests=args.api_requests,
        ),
        "import": lambda: import_bench.run(args.conf, args.db, ROOT, args.import_rows),
    }
    for name in SECTIONS:
        if name not in wanted:
            result["sections"][name] = {"status": "skipped (not asked for)"}
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            section = runners[name]()
        except Exception as error:  # report it and go on with the other sections
            traceback.print_exc()
            section = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        section.setdefault("status", "ran")
        section["wall_seconds"] = round(time.perf_counter() - t0, 1)
        # the machine is shared: say how busy it was (1-minute load average)
        section["load_average"] = round(os.getloadavg()[0], 2)
        result["sections"][name] = section
        print(json.dumps(section, indent=1, default=str), flush=True)

    from .report import table

    print(table(result))
    out = args.out or os.path.join(
        ROOT,
        "bench",
        "results",
        f"{datetime.date.today().isoformat()}-{args.members}.json",
    )
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1, default=str)
    print(f"Results written to {out}")
    failed = [n for n, s in result["sections"].items() if s.get("status") == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

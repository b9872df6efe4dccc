#!/usr/bin/env bash
# Benchmarks at scale (README, "Benchmarks"): a throwaway database with loyalty_crm
# (no demo data), data generated set-based, then the measurements of bench/.
#
# Settings (environment):
#   BENCH_MEMBERS=10000   members (10 ledger entries and 2 POS orders each)
#   BENCH_SCALE=full      100k members / 1M ledger entries / 200k orders
#   BENCH_SCALE=million   1M members / 10M ledger entries / 2M orders (same as
#                         BENCH_MEMBERS=1000000)
#   BENCH_SECTIONS        comma-separated: lookup,crons,pos,api,floor,soak,kpi,scale,import
#                         (default all)
#   BENCH_RUNS=3          runs per measurement (the median is reported)
#   BENCH_POS_ORDERS=1000 orders per POS sync run
#   BENCH_API_REQUESTS=400 requests per API case and run (8 clients)
#   BENCH_SOAK=20000      requests of the API soak run
#   BENCH_OUT             result file (default bench/results/<date>-<members>.json)
#   BENCH_DB              database name (default: a new unique name, dropped at the end)
#   KEEP_DB=1             keep the database; BENCH_REUSE=1 measure an existing BENCH_DB
#   BENCH_NICE=10         niceness of the benchmark (the machine is shared)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ "${LOYALTY_SKIP_SETUP:-0}" = 1 ] || "$REPO_ROOT/scripts/setup.sh"

MEMBERS="${BENCH_MEMBERS:-10000}"
[ "${BENCH_SCALE:-}" = full ] && MEMBERS=100000
[ "${BENCH_SCALE:-}" = million ] && MEMBERS=1000000
DB="${BENCH_DB:-loyalty_crm_bench_${MEMBERS}_$$}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/loyalty_crm_bench.XXXXXX")"
CONF="$WORK/odoo.conf"
cleanup() {
    local rc=$?
    if [ "${KEEP_DB:-0}" = 1 ] || [ "${BENCH_REUSE:-0}" = 1 ]; then
        say "kept database $DB (config: $CONF)"
    else
        dropdb --if-exists "$DB" >/dev/null 2>&1 || echo "warning: could not drop database $DB" >&2
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

write_odoo_conf "$CONF" "$DB" \
    "data_dir=$WORK/data" \
    "without_demo=all" \
    "log_level=warn" \
    "max_cron_threads=0" \
    "limit_memory_hard=0"

generate=(--generate)
if [ "${BENCH_REUSE:-0}" = 1 ]; then
    generate=()
    say "Measuring the existing database $DB"
else
    dropdb --if-exists "$DB" >/dev/null 2>&1 || true
    say "Creating $DB: installing loyalty_crm without demo data"
    odoo_bin -c "$CONF" -d "$DB" -i loyalty_crm --without-demo=all --stop-after-init \
        --log-level=warn
fi

say "Benchmark: $MEMBERS members"
cd "$REPO_ROOT"
export ODOO_DIR
PYTHONPATH="$ODOO_DIR${PYTHONPATH:+:$PYTHONPATH}" nice -n "${BENCH_NICE:-10}" \
    "$VENV/bin/python" -m bench --conf "$CONF" --db "$DB" --members "$MEMBERS" \
    "${generate[@]}" \
    --sections "${BENCH_SECTIONS:-lookup,crons,pos,api,floor,soak,kpi,scale,import}" \
    --runs "${BENCH_RUNS:-3}" \
    --pos-orders "${BENCH_POS_ORDERS:-1000}" \
    --soak "${BENCH_SOAK:-20000}" \
    --api-requests "${BENCH_API_REQUESTS:-400}" \
    --import-rows "${BENCH_IMPORT_ROWS:-100000}" \
    ${BENCH_OUT:+--out "$BENCH_OUT"}

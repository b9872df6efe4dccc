#!/usr/bin/env bash
# Screenshots of each user's main screens for docs/screens.md, in headless Chromium,
# from a fresh demo database (the data of `make run`, in Russian).
#
# Settings (environment):
#   SCREENS_DB      database (default loyalty_crm_screens); dropped and recreated first
#   SCREENS_REUSE=1 keep an existing SCREENS_DB (faster; the screens then show its state)
#   SCREENS_PORT    HTTP port of the temporary Odoo (default: a free one)
#   SCREENS_ONLY    comma-separated screen names (see scripts/screens.py)
#   CHROMIUM        the browser (default /usr/bin/chromium)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ "${LOYALTY_SKIP_SETUP:-0}" = 1 ] || "$REPO_ROOT/scripts/setup.sh"

DB="${SCREENS_DB:-loyalty_crm_screens}"
PORT="${SCREENS_PORT:-$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
CONF="$LOYALTY_CACHE/odoo-$DB.conf"
write_odoo_conf "$CONF" "$DB" \
    "data_dir=$LOYALTY_CACHE/data" \
    "http_port=$PORT" \
    "without_demo=False"

exists="$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" 2>/dev/null || true)"
if [ "$exists" = 1 ] && [ "${SCREENS_REUSE:-0}" != 1 ]; then
    dropdb "$DB"
    exists=""
fi
t0=$(date +%s)
if [ "$exists" != 1 ]; then
    say "Creating $DB: loyalty_crm with demo data, in Russian, in roubles (a few minutes)"
    create_demo_database "$CONF" "$DB" ru_RU,en_US || die "Creating $DB failed (see above)."
    odoo_shell "$CONF" "$DB" "$REPO_ROOT/scripts/demo_check.py" \
        || die "The demo data of $DB is wrong (see above)."
fi
say "Database $DB ready in $(( $(date +%s) - t0 ))s; starting Odoo on port $PORT"
"$VENV/bin/python" "$ODOO_DIR/odoo-bin" -c "$CONF" -d "$DB" --http-port="$PORT" \
    --log-level=warn --max-cron-threads=0 > "$LOYALTY_CACHE/screens-odoo.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$PORT/web/login" >/dev/null 2>&1 && break
    kill -0 "$server" 2>/dev/null || die "Odoo stopped (see $LOYALTY_CACHE/screens-odoo.log)."
    sleep 1
done
say "Taking the screenshots"
only=()
[ -n "${SCREENS_ONLY:-}" ] && only=(--only "$SCREENS_ONLY")
"$VENV/bin/python" "$REPO_ROOT/scripts/screens.py" --url "http://127.0.0.1:$PORT" --db "$DB" \
    --out "$REPO_ROOT/docs/screens" --markdown "$REPO_ROOT/docs/screens.md" \
    --chromium "${CHROMIUM:-/usr/bin/chromium}" "${only[@]}"

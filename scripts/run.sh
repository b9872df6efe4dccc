#!/usr/bin/env bash
# Serves Odoo 18 with loyalty_crm on http://localhost:8069 (login admin / admin).
# The first run creates the demo database with loyalty_crm and demo data installed, a
# Russian retailer in roubles (create_demo_database in env.sh), and checks it
# (scripts/demo_check.py); later runs update loyalty_crm in it (-u) and keep its data.
# Stop the server with Ctrl+C.
#
# Settings (environment):
#   LOYALTY_DB         database name (default loyalty_crm_demo); `dropdb NAME` starts over
#   LOYALTY_HTTP_PORT  HTTP port (default 8069)
#   LOYALTY_LANG       main language of a new database (default ru_RU: Russian interface and
#                      demo data, English kept available in the user preferences);
#                      LOYALTY_LANG=en_US for an English-only database
#   ADDON, EXTRA_ADDONS_PATH  serve another addon (default loyalty_crm)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

"$REPO_ROOT/scripts/setup.sh"

ADDON="${ADDON:-loyalty_crm}"
addon_dir "$ADDON" >/dev/null || die "Addon $ADDON not found (no $ADDON/__manifest__.py in this repository or EXTRA_ADDONS_PATH)."
DB="${LOYALTY_DB:-loyalty_crm_demo}"
PORT="${LOYALTY_HTTP_PORT:-8069}"
LANG_CODE="${LOYALTY_LANG-ru_RU}"
CONF="$LOYALTY_CACHE/odoo-$DB.conf"

"$VENV/bin/python" - "$PORT" <<'PY' || die "Port $PORT is already in use (another Odoo?). Stop it or set LOYALTY_HTTP_PORT."
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY

# A config file of our own, so that no ~/.odoorc of the user changes what happens here.
# without_demo=False: demo data is loaded when the database is created.
write_odoo_conf "$CONF" "$DB" \
    "data_dir=$LOYALTY_CACHE/data" \
    "http_port=$PORT" \
    "without_demo=False"

sql() { psql -d "$1" -tAc "$2" 2>/dev/null || true; }

db_exists="$(sql postgres "SELECT 1 FROM pg_database WHERE datname = '$DB'")"
state=""
[ "$db_exists" = 1 ] && state="$(sql "$DB" "SELECT state FROM ir_module_module WHERE name = '$ADDON'")"

# --load-language at creation makes its first language the default one of the database
# (and of the admin user); en_US is added so that English stays available.
lang_args=()
if [ -n "$LANG_CODE" ] && [ "$LANG_CODE" != en_US ]; then
    if [ "$db_exists" != 1 ]; then
        lang_args=(--load-language="$LANG_CODE,en_US")
    elif [ "$(sql "$DB" "SELECT active FROM res_lang WHERE code = '$LANG_CODE'")" != t ]; then
        lang_args=(--load-language="$LANG_CODE")
    fi
fi

t0=$(date +%s)
if [ "$state" = installed ]; then
    say "Updating $ADDON in database $DB"
    odoo_bin -c "$CONF" -d "$DB" -u "$ADDON" "${lang_args[@]}" --stop-after-init --log-level=warn \
        || die "Updating $ADDON in $DB failed (see above). To start over: dropdb $DB"
else
    if [ "$db_exists" = 1 ]; then
        say "Installing $ADDON in the existing database $DB"
        odoo_bin -c "$CONF" -d "$DB" -i "$ADDON" "${lang_args[@]}" --stop-after-init --log-level=warn \
            || die "Installing $ADDON in $DB failed (see above). To start over: dropdb $DB"
    else
        say "Creating database $DB with $ADDON and demo data: a Russian retailer in roubles (a few minutes the first time)"
        langs="$LANG_CODE"
        [ -n "$langs" ] && [ "$langs" != en_US ] && langs="$langs,en_US"
        create_demo_database "$CONF" "$DB" "$langs" "$ADDON" \
            || die "Creating $DB failed (see above). To start over: dropdb $DB"
    fi
    state="$(sql "$DB" "SELECT state FROM ir_module_module WHERE name = '$ADDON'")"
    [ "$state" = installed ] || die "$ADDON is not installed in $DB (state: ${state:-none}). To start over: dropdb $DB"
    if [ "$db_exists" != 1 ] && [ "$ADDON" = loyalty_crm ]; then
        say "Checking the demo data"
        odoo_shell "$CONF" "$DB" "$REPO_ROOT/scripts/demo_check.py" \
            || die "The demo data of $DB is wrong (see above). To start over: dropdb $DB"
    fi
fi
[ "$(sql "$DB" "SELECT demo FROM ir_module_module WHERE name = 'base'")" = t ] \
    || echo "warning: database $DB has no demo data (it was not created by this script); dropdb $DB to recreate it" >&2
say "Database $DB ready in $(( $(date +%s) - t0 ))s"

say "Odoo is starting on http://localhost:$PORT  (login: admin / password: admin; Ctrl+C stops it)"
exec "$VENV/bin/python" "$ODOO_DIR/odoo-bin" -c "$CONF" -d "$DB" --http-port="$PORT"

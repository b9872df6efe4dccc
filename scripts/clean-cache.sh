#!/usr/bin/env bash
# Deletes the cache (~/.cache/loyalty_crm: Odoo source, virtualenv, the demo database's
# files) and the demo database itself, whose attachments live in that cache.
# The next `make run` or `make test` rebuilds everything (Odoo's source from $ODOO_SRC or upstream).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

case "$LOYALTY_CACHE" in */loyalty_crm) ;; *) die "Refusing to delete $LOYALTY_CACHE (not a .../loyalty_crm folder).";; esac
DB="${LOYALTY_DB:-loyalty_crm_demo}"
if [ "$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" 2>/dev/null)" = 1 ]; then
    dropdb "$DB" && say "Dropped database $DB"
fi
rm -rf "$LOYALTY_CACHE"
say "Deleted $LOYALTY_CACHE"

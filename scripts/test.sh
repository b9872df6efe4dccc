#!/usr/bin/env bash
# Runs the addon's tests, browser tours included, on a fresh database, then the linters.
# Exits non-zero if installing fails or logs an error, if any test fails, errors or is
# skipped, if no test ran, if Odoo logs an error during the tests, or if lint fails.
#
# Settings (environment):
#   KEEP_DB=1            keep the test database (and its filestore) afterwards
#   LOYALTY_TEST_DB      name of the test database (default: a new unique name)
#   PYTEST_ARGS          extra pytest arguments, e.g. PYTEST_ARGS="-k ledger -x"
#   ADDON, EXTRA_ADDONS_PATH, TEST_PATHS
#                        test another addon (default: loyalty_crm and its tests/ folder);
#                        used to check this tooling itself on a throwaway addon
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

"$REPO_ROOT/scripts/setup.sh"

# Browser tours need Chrome/Chromium (Odoo looks for google-chrome, chromium,
# chromium-browser, google-chrome-stable on PATH) and websocket-client; without them Odoo
# skips the tours, which would fail the run anyway, later and less clearly.
chrome=""
for c in google-chrome chromium chromium-browser google-chrome-stable; do
    command -v "$c" >/dev/null && { chrome="$(command -v "$c")"; break; }
done
[ -n "$chrome" ] || die "No Chrome/Chromium on PATH: browser tours cannot run (apt-get install chromium)."
"$VENV/bin/python" -c 'import websocket' 2>/dev/null || die "websocket-client is missing from $VENV (run make setup)."

ADDON="${ADDON:-loyalty_crm}"
dir="$(addon_dir "$ADDON")" || die "Addon $ADDON not found (no $ADDON/__manifest__.py in this repository or EXTRA_ADDONS_PATH)."
TEST_PATHS="${TEST_PATHS:-$dir/tests}"
DB="${LOYALTY_TEST_DB:-${ADDON}_test_$(date +%Y%m%d_%H%M%S)_$$}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/${ADDON}_test.XXXXXX")"
CONF="$WORK/odoo.conf"

now() { date +%s; }
cleanup() {
    local rc=$?
    if [ "${KEEP_DB:-0}" = 1 ]; then
        say "KEEP_DB=1: kept database $DB and $WORK (config: $CONF)"
    else
        dropdb --if-exists "$DB" >/dev/null 2>&1 || echo "warning: could not drop database $DB" >&2
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One config file for the install and for pytest: same addons path, database and data
# folder (filestore), and nothing from a ~/.odoorc. pytest-odoo picks its own free HTTP port
# for the server it starts; the one written here only serves the install step.
# limit_memory_hard=0: Odoo's default 2.5 GiB address-space cap is meant for a server
# process, not for pytest running the registry, an HTTP server and the tests together.
write_odoo_conf "$CONF" "$DB" \
    "data_dir=$WORK/data" \
    "http_port=$(free_port)" \
    "without_demo=all" \
    "log_level=warn" \
    "max_cron_threads=0" \
    "limit_memory_hard=0"

# ------------------------------------------------------------------ database
dropdb --if-exists "$DB" >/dev/null 2>&1 || true
say "Creating test database $DB: installing $ADDON without demo data"
t0=$(now)
set +e
odoo_bin -c "$CONF" -d "$DB" -i "$ADDON" --without-demo=all --stop-after-init --log-level=warn \
    2>&1 | tee "$WORK/install.log"
rc=${PIPESTATUS[0]}
set -e
t_install=$(( $(now) - t0 ))
[ "$rc" = 0 ] || die "Installing $ADDON failed (odoo-bin exit code $rc), see the log above."
state="$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = '$ADDON'" 2>/dev/null || true)"
[ "$state" = installed ] || die "$ADDON is not installed in $DB after the install step (state: ${state:-none})."
# Odoo's own CI treats any ERROR/CRITICAL log line as a failure: so do we.
if grep -qE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$WORK/install.log"; then
    grep -E '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$WORK/install.log" | head -20 >&2
    die "Installing $ADDON logged errors (above)."
fi
say "Database ready in ${t_install}s"

# ------------------------------------------------------------------ tests
say "Running tests: $TEST_PATHS"
t0=$(now)
set +e
# shellcheck disable=SC2086 # TEST_PATHS and PYTEST_ARGS are word lists
(
    cd "$REPO_ROOT"
    export PYTHONPATH="$REPO_ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"
    exec "$VENV/bin/python" -m pytest -p pytest_strict -p no:cacheprovider \
        --odoo-config="$CONF" --odoo-database="$DB" --odoo-http --odoo-log-level=warn \
        --rootdir="$REPO_ROOT" -v -ra --durations=10 $TEST_PATHS ${PYTEST_ARGS:-}
)
test_rc=$?
set -e
t_tests=$(( $(now) - t0 ))
say "Tests finished in ${t_tests}s (pytest exit code $test_rc)"

# ------------------------------------------------------------------ lint
lint_rc=0
LOYALTY_SKIP_SETUP=1 ADDON="$ADDON" "$REPO_ROOT/scripts/lint.sh" || lint_rc=$?

echo
say "Summary: install ${t_install}s, tests ${t_tests}s"
failed=0
if [ "$test_rc" = 0 ]; then say "tests: passed"; else printf '\033[31mtests: FAILED (pytest exit code %s)\033[0m\n' "$test_rc" >&2; failed=1; fi
if [ "$lint_rc" = 0 ]; then say "lint: passed"; else printf '\033[31mlint: FAILED\033[0m\n' >&2; failed=1; fi
exit "$failed"

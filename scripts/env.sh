# shellcheck shell=bash
# Common settings for the project's scripts. Sourced, never executed.
# Everything installed lives in a cache outside the clone so that later runs reuse it.
LOYALTY_CACHE="${LOYALTY_CRM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loyalty_crm}"
ODOO_DIR="$LOYALTY_CACHE/odoo-18.0"          # a copy of Odoo 18.0's source tree
VENV="$LOYALTY_CACHE/venv"                   # Python 3.11 with Odoo's requirements
ODOO_UPSTREAM="${ODOO_UPSTREAM:-https://github.com/odoo/odoo}"
ODOO_BRANCH="${ODOO_BRANCH:-18.0}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-$(id -un)}"
[ "$PGUSER" = postgres ] && PGUSER=odoo   # Odoo refuses to run as the postgres role
export PGHOST PGPORT PGUSER LOYALTY_CACHE ODOO_DIR VENV REPO_ROOT
# Keep the work tree clean: bytecode and tool caches go to the cache too.
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$LOYALTY_CACHE/pycache}"
export RUFF_CACHE_DIR="${RUFF_CACHE_DIR:-$LOYALTY_CACHE/ruff-cache}"
export PYLINTHOME="${PYLINTHOME:-$LOYALTY_CACHE/pylint}"
export HYPOTHESIS_STORAGE_DIRECTORY="${HYPOTHESIS_STORAGE_DIRECTORY:-$LOYALTY_CACHE/hypothesis}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Addons paths: $EXTRA_ADDONS_PATH (comma-separated, optional), this repository, then the
# Odoo tree: upstream git keeps the addons in ./addons, release/nightly trees in ./odoo/addons.
odoo_addons_path() {
    local p="$REPO_ROOT"
    [ -n "${EXTRA_ADDONS_PATH:-}" ] && p="$EXTRA_ADDONS_PATH,$p"
    [ -d "$ODOO_DIR/addons" ] && p="$p,$ODOO_DIR/addons"
    printf '%s,%s' "$p" "$ODOO_DIR/odoo/addons"
}

# write_odoo_conf FILE DB [KEY=VALUE...]: an Odoo config file for database DB, so that
# no ~/.odoorc or $ODOO_RC of the user changes what the scripts do.
write_odoo_conf() {
    local file="$1" db="$2"; shift 2
    {
        echo "[options]"
        echo "addons_path = $(odoo_addons_path)"
        echo "db_host = $PGHOST"
        echo "db_port = $PGPORT"
        echo "db_user = $PGUSER"
        echo "db_name = $db"
        echo "dbfilter = ^${db}\$"
        echo "list_db = False"
        local kv
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } > "$file"
}

# pip_install ARGS...: pip install, without the "Location '...' is ignored" noise that
# find-links/extra-index-url entries pointing at missing local folders print.
pip_install() {
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
        | { grep -vE "^(WARNING: )?Location '.*' is ignored" || true; } >&2
    return "${PIPESTATUS[0]}"
}

# addon_dir NAME: the folder of addon NAME, looked up in $EXTRA_ADDONS_PATH then this repository.
addon_dir() {
    local d
    local IFS=,
    for d in ${EXTRA_ADDONS_PATH:-} "$REPO_ROOT"; do
        [ -n "$d" ] && [ -f "$d/$1/__manifest__.py" ] && { printf '%s\n' "$d/$1"; return 0; }
    done
    return 1
}

odoo_bin() {
    "$VENV/bin/python" "$ODOO_DIR/odoo-bin" --addons-path="$(odoo_addons_path)" \
        --db_host="$PGHOST" --db_port="$PGPORT" --db_user="$PGUSER" "$@"
}

# odoo_shell CONF DB FILE: runs the Python FILE in `odoo-bin shell` on DB (`env` is the
# superuser's); FILE exits non-zero on failure (sys.exit), which this returns.
odoo_shell() {
    local f='__import__("os").environ["LOYALTY_SHELL_FILE"]'
    echo "exec(compile(open($f).read(), $f, 'exec'))" \
        | LOYALTY_SHELL_FILE="$3" "$VENV/bin/python" "$ODOO_DIR/odoo-bin" shell \
            -c "$1" -d "$2" --no-http --log-level=warn
}

# create_demo_database CONF DB LANGS [ADDON]: a new database DB with ADDON (default
# loyalty_crm) and demo data, its company a Russian retailer keeping its books in roubles.
# Three steps, since a company's currency can't change once Odoo's demo has booked journal
# items (scripts/demo_company.py says why): base alone, then the company in Russia with
# account in roubles, then the addon. LANGS: languages to load (the first one becomes the
# database's default), e.g. ru_RU,en_US; empty for English only.
create_demo_database() {
    local conf="$1" db="$2" langs="$3" addon="${4:-loyalty_crm}"
    local lang_args=()
    [ -n "$langs" ] && lang_args=(--load-language="$langs")
    odoo_bin -c "$conf" -d "$db" -i base "${lang_args[@]}" --stop-after-init --log-level=warn \
        || return 1
    odoo_shell "$conf" "$db" "$REPO_ROOT/scripts/demo_company.py" || return 1
    odoo_bin -c "$conf" -d "$db" -i "$addon" --stop-after-init --log-level=warn
}

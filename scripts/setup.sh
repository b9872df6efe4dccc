#!/usr/bin/env bash
# Installs whatever is missing to run and test loyalty_crm, and nothing else:
#   system packages (Debian), PostgreSQL up and a role for Odoo, Odoo 18.0's source in the cache
#   (from $ODOO_SRC, else upstream git), a Python 3.11 virtualenv with Odoo's requirements and our tools.
# Safe to run again: every step checks before it acts.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

need_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# ---------------------------------------------------------------- system packages
system_packages() {
    local pkgs=(libpq-dev libldap2-dev libsasl2-dev chromium postgresql-client wkhtmltopdf gettext)
    local missing=()
    for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || die "Missing system packages (${missing[*]}) and no apt-get: install them yourself."
    say "Installing system packages: ${missing[*]}"
    need_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
        || die "Could not install ${missing[*]} (needs root or sudo)."
}

# ---------------------------------------------------------------- PostgreSQL
postgres_up() {
    if ! pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; then
        say "Starting PostgreSQL"
        if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
            need_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
        fi
        for _ in $(seq 1 20); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 0.5; done
        pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "PostgreSQL is not reachable on $PGHOST:$PGPORT (set PGHOST/PGPORT)."
    fi
    # Odoo needs a role that may create databases (and refuses 'postgres').
    if ! psql -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
        say "Creating PostgreSQL role $PGUSER"
        psql -U postgres -d postgres -c "CREATE ROLE \"$PGUSER\" LOGIN CREATEDB" >/dev/null \
            || die "Cannot connect to PostgreSQL as $PGUSER nor create that role (set PGUSER to a role with CREATEDB)."
    fi
}

# ---------------------------------------------------------------- Odoo source
odoo_source() {
    local stamp="$ODOO_DIR/.loyalty_crm_ready"
    if [ -n "${ODOO_SRC:-}" ]; then
        # Checked even when the cache is ready, so that a wrong ODOO_SRC never goes unnoticed.
        [ -f "$ODOO_SRC/odoo/release.py" ] \
            || die "ODOO_SRC=$ODOO_SRC is not an Odoo source tree (no odoo/release.py).
       Set ODOO_SRC to a checkout of Odoo 18.0 Community (the folder that holds odoo-bin)."
        grep -qE "^version_info = \(18, 0" "$ODOO_SRC/odoo/release.py" \
            || die "ODOO_SRC=$ODOO_SRC is not Odoo 18.0 (see its odoo/release.py).
       Set ODOO_SRC to a checkout of Odoo 18.0 Community."
        local src
        src="$(cd "$ODOO_SRC" && pwd -P)"
        if [ -d "$ODOO_DIR" ] && [ "$src" = "$(cd "$ODOO_DIR" && pwd -P)" ]; then
            finish_odoo_source "src=$src"; return 0   # ODOO_SRC is the cache's own copy
        fi
        # Ready, and copied from this very tree (or from an unrecorded one): nothing to do.
        if [ -f "$stamp" ] && { [ ! -s "$stamp" ] || [ "$(cat "$stamp")" = "src=$src" ]; }; then return 0; fi
        rm -rf "$ODOO_DIR"
        mkdir -p "$ODOO_DIR"
        say "Copying Odoo 18.0 from $src into $ODOO_DIR"
        tar -C "$src" --exclude=.git -cf - . | tar -C "$ODOO_DIR" -xf - \
            || { rm -rf "$ODOO_DIR"; die "Could not copy $src into $ODOO_DIR."; }
        finish_odoo_source "src=$src"
        return 0
    fi
    if [ -f "$stamp" ]; then return 0; fi
    rm -rf "$ODOO_DIR"
    mkdir -p "$LOYALTY_CACHE"
    local no_source="Odoo 18.0's source is not in the cache ($ODOO_DIR) and could not be fetched from
       $ODOO_UPSTREAM (branch $ODOO_BRANCH).
       Set ODOO_SRC to a local checkout of Odoo 18.0 Community and run again, e.g.
           ODOO_SRC=/path/to/odoo-18.0 make test"
    # Fail fast when the remote is unreachable instead of hanging in git clone.
    say "ODOO_SRC not set: checking $ODOO_UPSTREAM"
    GIT_TERMINAL_PROMPT=0 timeout 20 git ls-remote --exit-code --heads "$ODOO_UPSTREAM" "$ODOO_BRANCH" \
        >/dev/null 2>&1 || die "$no_source"
    say "Cloning $ODOO_UPSTREAM ($ODOO_BRANCH) into $ODOO_DIR (a few minutes)"
    if ! GIT_TERMINAL_PROMPT=0 timeout 1800 git -c http.lowSpeedLimit=1000 -c http.lowSpeedTime=60 \
            clone -q --depth 1 --branch "$ODOO_BRANCH" "$ODOO_UPSTREAM" "$ODOO_DIR"; then
        rm -rf "$ODOO_DIR"
        die "$no_source"
    fi
    finish_odoo_source "git=$ODOO_UPSTREAM#$ODOO_BRANCH"
}

finish_odoo_source() {
    [ -f "$ODOO_DIR/odoo-bin" ] || { [ -f "$ODOO_DIR/setup/odoo" ] && cp "$ODOO_DIR/setup/odoo" "$ODOO_DIR/odoo-bin"; }
    [ -f "$ODOO_DIR/odoo-bin" ] || die "No odoo-bin in the Odoo source tree at $ODOO_DIR."
    echo "$1" > "$ODOO_DIR/.loyalty_crm_ready"
}

# ---------------------------------------------------------------- Python
python_env() {
    local stamp="$VENV/.loyalty_crm_ready"
    local want
    want="$(cat "$ODOO_DIR/requirements.txt" "$REPO_ROOT/requirements-dev.txt" | sha1sum | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    local py="${PYTHON:-}"
    if [ -z "$py" ]; then
        for c in python3.11 python3; do
            if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then py="$c"; break; fi
        done
    fi
    [ -n "$py" ] || die "Python 3.11 is required (set PYTHON=/path/to/python3.11)."
    [ -x "$VENV/bin/python" ] || { say "Creating virtualenv $VENV"; "$py" -m venv "$VENV"; }
    say "Installing Odoo 18.0 requirements (about 2 minutes the first time)"
    pip_install --upgrade pip wheel 'setuptools<70'
    # Odoo pins cbor2==5.4.2 whose sdist no longer builds on 3.11; 5.6.2 is API-compatible.
    sed -E 's/^cbor2==5\.4\.2.*/cbor2==5.6.2/' "$ODOO_DIR/requirements.txt" > "$LOYALTY_CACHE/requirements-odoo.txt"
    pip_install --no-build-isolation -r "$LOYALTY_CACHE/requirements-odoo.txt"
    pip_install -r "$REPO_ROOT/requirements-dev.txt"
    # Make `import odoo` work in this venv (pytest-odoo needs it).
    local site
    site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ODOO_DIR" > "$site/odoo-src.pth"
    echo "$want" > "$stamp"
}

system_packages
postgres_up
odoo_source
python_env
say "Ready: Odoo 18.0 in $ODOO_DIR, Python in $VENV"

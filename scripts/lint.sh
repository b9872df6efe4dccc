#!/usr/bin/env bash
# Lints the addon: `ruff check` and `ruff format --check` (ruff.toml), then pylint with
# pylint-odoo and OCA's mandatory checks for 18.0 (.pylintrc-mandatory). Changes no file.
#   scripts/lint.sh            lints $ADDON (default loyalty_crm) and scripts/
#   ADDON=other scripts/lint.sh
# Runs setup.sh first unless LOYALTY_SKIP_SETUP=1 (test.sh has just run it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

[ "${LOYALTY_SKIP_SETUP:-0}" = 1 ] || "$REPO_ROOT/scripts/setup.sh"
ADDON="${ADDON:-loyalty_crm}"
dir="$(addon_dir "$ADDON")" || die "Addon $ADDON not found (no $ADDON/__manifest__.py in this repository or EXTRA_ADDONS_PATH)."
ruff=("$VENV/bin/ruff")
pylint_fmt=()
[ -t 1 ] || pylint_fmt=(--output-format=text)

failed=()
bench=()
[ -d "$REPO_ROOT/bench" ] && bench=("$REPO_ROOT/bench")
say "ruff check $ADDON scripts ${bench[*]:+bench}"
"${ruff[@]}" check --no-fix --config "$REPO_ROOT/ruff.toml" "$dir" "$REPO_ROOT/scripts" "${bench[@]}" || failed+=("ruff check")
say "ruff format --check $ADDON scripts ${bench[*]:+bench}"
"${ruff[@]}" format --check --config "$REPO_ROOT/ruff.toml" "$dir" "$REPO_ROOT/scripts" "${bench[@]}" || failed+=("ruff format (run: $VENV/bin/ruff format --config ruff.toml $ADDON)")
say "pylint-odoo (OCA mandatory checks) $ADDON"
"$VENV/bin/pylint" --rcfile="$REPO_ROOT/.pylintrc-mandatory" "${pylint_fmt[@]}" "$dir" || failed+=("pylint-odoo")

if [ ${#failed[@]} -gt 0 ]; then
    printf '\033[31mLint FAILED: %s\033[0m\n' "$(IFS=';'; echo "${failed[*]}")" >&2
    exit 1
fi
say "Lint passed"

#!/usr/bin/env bash
# Re-exports loyalty_crm's translation template (i18n/loyalty_crm.pot) from a throwaway
# database and merges it into i18n/ru.po; prints what is left to translate.
# The test suite (tests/test_i18n.py) fails while ru.po misses a term of the template.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ "${LOYALTY_SKIP_SETUP:-0}" = 1 ] || "$REPO_ROOT/scripts/setup.sh"

DB="${I18N_DB:-loyalty_crm_i18n_$$}"
I18N="$REPO_ROOT/loyalty_crm/i18n"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
say "Installing loyalty_crm in $DB"
odoo_bin -d "$DB" -i loyalty_crm --without-demo=all --stop-after-init --log-level=warn
say "Exporting $I18N/loyalty_crm.pot"
odoo_bin -d "$DB" --i18n-export="$I18N/loyalty_crm.pot" --modules=loyalty_crm \
    --stop-after-init --log-level=warn
if [ -f "$I18N/ru.po" ]; then
    msgmerge --quiet --update --no-fuzzy-matching --backup=none "$I18N/ru.po" "$I18N/loyalty_crm.pot"
    msgattrib --no-obsolete -o "$I18N/ru.po" "$I18N/ru.po"
else
    msginit --no-translator --locale=ru --input="$I18N/loyalty_crm.pot" --output-file="$I18N/ru.po"
fi
left="$(msgattrib --untranslated --no-obsolete "$I18N/ru.po" | grep -c '^msgid ' || true)"
# the header entry counts as one
say "ru.po: $(( left > 0 ? left - 1 : 0 )) terms left to translate"

"""Month headings in the nominative ("ноябрь 2026"), in every list, pivot and
chart grouped by month: the program's reports and Odoo's own (Sales, the till's
orders) read the same.

Odoo labels a month group with Babel's ``MMMM yyyy``, which is the genitive
in Russian ("ноября 2026", as in a date). A heading takes the stand-alone
form ``LLLL yyyy`` (the same text in English).
"""

import babel.dates
import pytz

from odoo import fields, models
from odoo.tools.misc import get_lang


class Base(models.AbstractModel):
    _inherit = "base"

    def _read_group_format_result(self, rows_dict, lazy_groupby):
        result = super()._read_group_format_result(rows_dict, lazy_groupby)
        locale = get_lang(self.env).code
        for group in lazy_groupby:
            field = self._fields[group.split(":")[0].split(".")[0]]
            granularity = group.split(":")[1] if ":" in group else "month"
            if field.type not in ("date", "datetime") or granularity != "month":
                continue
            tz = self.env.context.get("tz")
            tz = pytz.timezone(tz) if tz in pytz.all_timezones_set else None
            for row in rows_dict:
                bounds = (row.get("__range") or {}).get(group)
                if not bounds:
                    continue
                start = fields.Datetime.to_datetime(bounds["from"])
                if field.type == "datetime" and tz:
                    start = pytz.utc.localize(start).astimezone(tz)
                row[group] = babel.dates.format_date(
                    start.date(), format="LLLL yyyy", locale=locale
                )
        return result

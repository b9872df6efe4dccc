"""Set-based inserts of records: what ``create`` stores, without its per-record cost.

``bulk_insert`` is for paths that create thousands of records of a known shape
(the import of an existing program): one ``INSERT`` per call, with the values
the ORM's ``create`` would store:

- the values given, converted to columns by the fields themselves
  (``convert_to_column_insert``: selections, dates, company-dependent JSON...);
- the defaults of every stored field not given (``default_get``, once per call:
  a default computed per record, such as "now", is the same for the whole call);
- ``create_uid``/``write_uid`` (the current user) and ``create_date``/
  ``write_date`` (the transaction's time, as the ORM's);
- the stored computed fields the caller does not give are left to the ORM: they
  are marked to compute for the new ids and computed in batch at the next flush
  (a field added by another module is filled the ORM's way, never left empty).

What it does not do: run the model's ``create`` overrides, chatter (followers,
messages, tracking) and Python constraints. A caller owns that its values are
valid and decides what of that the records need (see ``loyalty.import.batch``).
"""

import logging

from odoo.tools import SQL

_logger = logging.getLogger(__name__)

LOG_ACCESS = ("create_uid", "create_date", "write_uid", "write_date")


def reserve_ids(env, table, count):
    """``count`` ids of ``table``'s sequence, for rows that refer to each other."""
    if not count:
        return []
    return [
        row[0]
        for row in env.execute_query(
            SQL(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id'))"
                " FROM generate_series(1, %s)",
                table,
                count,
            )
        )
    ]


def bulk_insert(model, vals_list):
    """Insert ``vals_list`` (dicts of field values, ``id`` allowed) into
    ``model``'s table in one statement; returns the new records.

    The ORM cache is not filled: the caller flushed before (the statement flushes
    too) and invalidates what it read of these tables after.
    """
    if not vals_list:
        return model.browse()
    query, done = insert_query(model, vals_list)
    model.env.flush_all()
    return done([row[0] for row in model.env.execute_query(query)])


def insert_query(model, vals_list):
    """``(query, done)``: the ``INSERT ... RETURNING id`` of :func:`bulk_insert`,
    to run alone or with others in one statement (rows that refer to each other:
    ``WITH a AS (insert) insert``, the foreign keys checked at its end), and
    ``done(ids)``, which marks the stored computed fields nobody gave to be
    computed by the ORM and returns the records."""
    env = model.env
    fields = model._fields
    given = {name for vals in vals_list for name in vals}
    unknown = given - set(fields)
    if unknown:
        raise ValueError(f"Unknown fields of {model._name}: {sorted(unknown)}")
    candidates = [
        name
        for name, field in fields.items()
        if field.store
        and field.column_type
        and not field.compute
        and name not in LOG_ACCESS
        and name != "id"
    ]
    defaults = model.default_get(candidates)
    now = env.cr.now()
    magic = {}
    if model._log_access:
        magic = {
            "create_uid": env.uid,
            "create_date": now,
            "write_uid": env.uid,
            "write_date": now,
        }
    columns = sorted(given | (set(defaults) & set(candidates)) | set(magic))
    converted = {}  # a default or magic value, converted once

    def constant(name):
        if name not in converted:
            value = magic[name] if name in magic else defaults.get(name)
            converted[name] = fields[name].convert_to_column_insert(
                value, model, defaults
            )
        return converted[name]

    rows = []
    for vals in vals_list:
        row = []
        for name in columns:
            if name not in vals:
                row.append(constant(name))
            elif name == "id":
                row.append(vals["id"])
            else:
                row.append(
                    fields[name].convert_to_column_insert(vals[name], model, vals)
                )
        rows.append(tuple(row))
    query = SQL(
        "INSERT INTO %s (%s) VALUES %s RETURNING id",
        SQL.identifier(model._table),
        SQL(", ").join(SQL.identifier(name) for name in columns),
        SQL(", ").join(rows),
    )
    computed = [
        field
        for field in fields.values()
        if field.store
        and field.compute
        and field.column_type
        and field.name not in given
    ]

    def done(ids):
        records = model.browse(ids)
        # stored computed fields nobody gave: the ORM computes them in batch
        for field in computed:
            _logger.debug("%s.%s computed by the ORM", model._name, field.name)
            env.add_to_compute(field, records)
        return records

    return query, done

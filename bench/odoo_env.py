"""An Odoo environment outside of odoo-bin: a registry built from a config file."""

import contextlib
import logging

import odoo
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry


def load_registry(conf, db, log_level="warn"):
    odoo.tools.config.parse_config(["-c", conf, "-d", db, f"--log-level={log_level}"])
    logging.getLogger("odoo").setLevel(getattr(logging, log_level.upper()))
    return Registry(db)


@contextlib.contextmanager
def environment(registry, commit=False, context=None, uid=SUPERUSER_ID):
    """An environment on a new cursor (superuser unless ``uid``); rolled back
    unless ``commit``."""
    with registry.cursor() as cr:
        env = api.Environment(cr, uid, dict(context or {}))
        try:
            yield env
            if commit:
                env.flush_all()
                cr.commit()
            else:
                cr.rollback()
        finally:
            env.clear()


def query_count(cr):
    """Queries the cursor has run so far (Odoo's own counter)."""
    return cr.sql_log_count

"""``odoo-bin`` for the API benchmark's server, without its long-polling process.

Odoo's prefork server starts ``sys.argv[0] gevent ...`` for long polling
(websockets) and starts it again whenever it exits. The API benchmark does not
use it; where gevent cannot start (e.g. its plugin loading fails on a missing
package distribution), Odoo would respawn it in a loop, taking CPU from the
workers being measured. Started through this script, the ``gevent`` process
only waits for its parent to go away.
"""

import os
import sys

os.environ["TZ"] = "UTC"  # as odoo-bin, before the time module is imported

import time  # noqa: E402

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "gevent":
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(1)
        sys.exit(0)
    import odoo

    odoo.cli.main()

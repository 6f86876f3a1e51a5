"""Run localstripe on 127.0.0.1 only (its own `start()` binds every interface) and print the port.

`python tests/payments/localstripe_server.py` binds a free loopback port, writes it as one line
on stdout, then serves until killed. The store stays in memory: localstripe pickles it to
/tmp/localstripe.pickle after every write, which concurrent test runs would share and race on.
"""

import socket
import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def _keep_in_memory(self: resources.Store) -> None:
    """Replaces `Store.dump_to_disk`: the store lives as long as this process."""


def main() -> None:
    resources.Store.dump_to_disk = _keep_in_memory  # type: ignore[method-assign]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    sys.exit(main())

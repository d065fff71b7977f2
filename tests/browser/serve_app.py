"""Serve the real app in its own process for browser tests: `python -m tests.browser.serve_app
DATABASE_URL PORT`. A separate process can be stopped for real (every socket dies with it) and
started again on the same port, as a server restart looks to a browser.
"""
from __future__ import annotations

import sys


def main(database_url: str, port: int) -> None:
    from werkzeug.serving import make_server

    from app import create_app

    app = create_app({"DATABASE_URL": database_url, "COLLECTOR_INTERVAL_SECONDS": 0,
                      "SIMULATE": False, "LOG_LEVEL": "WARNING"})
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    print("serving", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

"""``python -m moviepulse.upstreams``: run the fake TMDB and OMDb servers (no app needed)."""

from __future__ import annotations

import argparse

from moviepulse.upstreams.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m moviepulse.upstreams", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tmdb-port", type=int, default=8701)
    parser.add_argument("--omdb-port", type=int, default=8702)
    parser.add_argument("--fixture", action="store_true", help="serve the six-film test catalogue")
    parser.add_argument("--ready-json", action="store_true", help="print one JSON line with the URLs once ready")
    parser.add_argument("--tmdb-rate-limit", type=float, default=None, help="requests/s per client IP (0 = off)")
    parser.add_argument("--omdb-daily-quota", type=int, default=None)
    args = parser.parse_args(argv)
    serve_forever(args.tmdb_port, args.omdb_port, host=args.host, fixture=args.fixture, ready_json=args.ready_json,
                  tmdb_rate_limit=args.tmdb_rate_limit, omdb_daily_quota=args.omdb_daily_quota)


if __name__ == "__main__":
    main()

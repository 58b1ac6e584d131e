"""The benchmarks. Importing this package registers every one of them, in ``ORDER``."""

import importlib

#: Run order of ``python -m bench`` (cheap, self-contained benchmarks first).
ORDER = ("datagen", "ingest", "ingest_server", "sketch", "audit", "ssr_middleware", "pages", "queries", "queries_pg",
         "rollup", "upstream", "upstream_outage", "browser", "memory",
         "reliability_soak")

for _name in ORDER:
    importlib.import_module(f"bench.benchmarks.b_{_name}")

"""Runs `vitrine analyze --sql clickhouse` output in ClickHouse's embedded engine (chDB, PyPI,
installed by .ci/bootstrap) over an events directory, as tests/analyze_cli.rs does:

    vitrine analyze events --sql clickhouse --metric revenue | python3 chdb_run.py DIR

The records (NDJSON, gzipped or not, at DIR's top level and below) are loaded into a table
`events` with the columns the query reads; the result rows are printed as a JSON array.
"""

import json
import sys

from chdb import session

src, sql = sys.argv[1], sys.stdin.read()
s = session.Session()
schema = ("type Nullable(String), v Nullable(Int32), ts UInt64, site Nullable(String), visitor Nullable(String), "
          "slot Nullable(String), variant Nullable(String), experiment Nullable(String), arm Nullable(String), "
          "segments Array(String), page_type Nullable(String), device Nullable(String), country Nullable(String), "
          "kind Nullable(String), value Nullable(Float64), `order` Nullable(String), event Nullable(String), "
          "source Nullable(String), trust Nullable(String)")
s.query(f"CREATE TABLE events ({schema}) ENGINE = Memory")
# `**/` matches one directory level or more, not none: the top level is read on its own.
for glob in [f"{src}/*.ndjson*", f"{src}/**/*.ndjson*"]:
    s.query(f"INSERT INTO events SELECT * FROM file('{glob}', 'JSONEachRow', '{schema}') SETTINGS use_hive_partitioning = 0")
rows = json.loads(str(s.query(sql, "JSONCompact")))["data"]
# 64-bit integers come quoted in ClickHouse's JSON.
print(json.dumps([r[:3] + [float(x) for x in r[3:6]] + r[6:] for r in rows]))

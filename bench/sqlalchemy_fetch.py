"""The original Python design's extraction loop (spec section 2.4): a
SQLAlchemy engine, a server-side cursor (stream_results), fetchmany(10000),
each row turned into a dict. Used by bench/extract.sh as a reference."""
import sys

from sqlalchemy import create_engine, text

engine = create_engine(sys.argv[1])
rows = 0
with engine.connect() as conn:
    result = conn.execution_options(stream_results=True).execute(text("SELECT * FROM orders"))
    while True:
        batch = result.fetchmany(10000)
        if not batch:
            break
        dicts = [dict(r._mapping) for r in batch]
        rows += len(dicts)
print(rows, file=sys.stderr)

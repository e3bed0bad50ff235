"""Writes a small Parquet file with pyarrow (snappy, pyarrow's default codec) for
tests/cli/hub_breadth.rs: text (string), label (int64), score (double), tags (list<string>).

usage: make_parquet.py OUT_FILE
"""
import sys

import pyarrow as pa
import pyarrow.parquet as pq

table = pa.table(
    {
        "text": ["great film", "boring plot", "loved it", None],
        "label": pa.array([1, 0, 1, 1], type=pa.int64()),
        "score": [0.9, 0.1, 0.8, 0.7],
        "tags": [["a"], [], ["b", "c"], None],
    }
)
pq.write_table(table, sys.argv[1])
print(sys.argv[1])

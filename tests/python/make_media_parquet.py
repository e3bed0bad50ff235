"""Writes a small Parquet file the way the `datasets` library stores Image and Audio features,
for tests/ui/hub_breadth.rs: image and audio columns are structs {bytes: binary, path: string}
(PNG and WAV bytes), and the schema's `huggingface` metadata names their feature types.

usage: make_media_parquet.py OUT_FILE
"""
import io
import json
import struct
import sys
import wave

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def png(width, height, color):
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def wav(seconds, rate=16000):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<h", 0) * int(seconds * rate))
    return out.getvalue()


media = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
table = pa.table(
    {
        "image": pa.array(
            [
                {"bytes": png(40, 20, (200, 30, 30)), "path": "red.png"},
                {"bytes": png(30, 60, (30, 30, 200)), "path": "blue.png"},
            ],
            type=media,
        ),
        "audio": pa.array(
            [
                {"bytes": wav(0.5), "path": "half.wav"},
                {"bytes": wav(1.25), "path": "longer.wav"},
            ],
            type=media,
        ),
        "label": pa.array([0, 1], type=pa.int64()),
    }
)
features = {
    "image": {"_type": "Image"},
    "audio": {"sampling_rate": 16000, "_type": "Audio"},
    "label": {"dtype": "int64", "_type": "Value"},
}
table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
pq.write_table(table, sys.argv[1])
print(sys.argv[1])

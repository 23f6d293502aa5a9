"""The Python side of the FFI overhead benchmark (scripts/bench-ffi): the same calls as
bindings/examples/ffi_baseline.rs — save an edited record, list 100 records — through the
generated bindings. Prints one JSON line, microseconds per call. Not a test (no test_ prefix)."""

import json
import sys
import tempfile
import time

sys.path.insert(0, sys.argv[1])
import fieldbook_ffi as fb  # noqa: E402

RECORDS, SAVES, LISTS = 100, 300, 2000


class Key(fb.KeyProvider):
    def database_key(self):
        return bytes([7] * 32)


def per_call_us(n, f):
    for i in range(n // 2):
        f(i)
    started = time.perf_counter()
    for i in range(n):
        f(i)
    return (time.perf_counter() - started) * 1e6 / n


with tempfile.TemporaryDirectory() as d:
    device = fb.FieldbookDevice.setup(f"{d}/py.fieldbook", "PC1", fb.Role.OFFICER, Key())
    for i in range(RECORDS):
        rid = device.create_record(fb.RecordKind.STOP_SEARCH).value.meta.id
        device.set_fields(rid, [f"person_description=Person {i}"])
    record = device.get(device.list(fb.RecordFilter())[0].id)

    def save(i):
        record.value.person_description = f"Edit {i}"
        device.save(record)

    def listing(_):
        assert len(device.list(fb.RecordFilter(limit=100))) == RECORDS

    print(json.dumps({"caller": "python", "save_us": round(per_call_us(SAVES, save), 1),
                      "list_us": round(per_call_us(LISTS, listing), 1)}))

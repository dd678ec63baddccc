"""An engine-independent checksum of a table, computed from its Arrow record batches.

``jicai warehouse copy`` checksums each table twice: the batches it reads from the source, and the batches the
destination engine gives back once the table has landed. DuckDB, PostgreSQL and Spark return rows in any order
and spell the same value in slightly different Arrow types, so the checksum is defined over *canonical values*,
not over bytes:

- integers as 64-bit integers; floats as IEEE doubles, with -0.0 taken as 0.0 and every NaN as one NaN;
- dates as days since 1970-01-01; timestamps as wall-clock microseconds (a timestamp with a time zone is taken
  as its wall clock in Beijing, the zone jicai's naive times are in — see :mod:`jicai.clock`);
- strings as their UTF-8 bytes (binary as its bytes, a decimal as its text);
- NULL as a marker of its own, distinct from every value (so NULL ≠ "" ≠ 0);
- each value is tagged with its kind and its column's name, so 1 (integer) ≠ 1.0 (float) and a value moved to
  another column counts as a change; the columns' order does not matter.

Each row is hashed to 64 bits (a splitmix64 mix over its columns in name order), and a table's checksum is two
sums of its row hashes modulo 2^64 (of the hashes and of a second mix of them): addition does not care in which
order rows come, and a duplicated row counts twice. The result is 32 hex digits. It detects values changed,
lost or added by a transfer; it is not a cryptographic digest (a deliberate forgery could collide).

>>> import pyarrow as pa
>>> a = Checksum(); a.update(pa.record_batch({"x": [1, 2], "s": ["a", None]}))
>>> b = Checksum(); b.update(pa.record_batch({"s": [None, "a"], "x": [2, 1]}))
>>> a.rows, a.hexdigest() == b.hexdigest()
(2, True)
>>> c = Checksum(); c.update(pa.record_batch({"x": [1, 2], "s": ["a", ""]}))
>>> c.hexdigest() == a.hexdigest()
False
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jicai.clock import TZ
from jicai.errors import BilingualError

U64 = np.uint64
# kind tags: the same 64 bits in a different kind of column hash differently
_TAGS = {kind: U64(int.from_bytes(hashlib.blake2b(kind.encode(), digest_size=8).digest(), "little"))
         for kind in ("null", "int", "float", "bool", "date", "timestamp", "string", "binary", "decimal")}
_ROW_SEED = U64(0x9E3779B97F4A7C15)
_SECOND = U64(0xD6E8FEB86659FD93)
_STRING_SLICE = 65_536  # rows of a string column hashed at once: bounds the per-byte temporaries


class ChecksumError(BilingualError, TypeError):
    """A column of a type the checksum has no canonical form for."""


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, element-wise (uint64 arithmetic wraps, as intended)."""
    x = x ^ (x >> U64(30))
    x = x * U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> U64(27))
    x = x * U64(0x94D049BB133111EB)
    return x ^ (x >> U64(31))


def _name_seed(name: str) -> np.uint64:
    return U64(int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little"))


def _bytes_hash(arr: pa.Array) -> np.ndarray:
    """64-bit hashes of the byte strings of a (large_)binary array without nulls: each byte mixed with its
    position in its string, summed per string, then mixed with the string's length."""
    out = np.empty(len(arr), dtype=U64)
    for lo in range(0, len(arr), _STRING_SLICE):
        part = arr.slice(lo, _STRING_SLICE)
        offsets = np.frombuffer(part.buffers()[1], dtype=np.int64)[part.offset: part.offset + len(part) + 1]
        data = np.frombuffer(part.buffers()[2], dtype=np.uint8) if part.buffers()[2] is not None \
            else np.empty(0, np.uint8)
        first = offsets[0]
        lengths = np.diff(offsets)
        byte_pos = np.arange(first, offsets[-1], dtype=np.int64)
        local = byte_pos - np.repeat(offsets[:-1], lengths)
        contrib = _mix(data[first: offsets[-1]].astype(U64) | (local.astype(U64) << U64(8)))
        sums = np.concatenate([np.zeros(1, U64), np.cumsum(contrib, dtype=U64)])
        per_string = sums[offsets[1:] - first] - sums[offsets[:-1] - first]
        out[lo: lo + len(part)] = _mix(per_string ^ _mix(lengths.astype(U64)))
    return out


def _canonical(col: pa.Array) -> tuple[str, pa.Array]:
    """The kind and canonical Arrow form of a column (see the module docstring)."""
    t = col.type
    if pa.types.is_null(t):
        return "null", col
    if pa.types.is_boolean(t):
        return "bool", col.cast(pa.uint8())
    if pa.types.is_integer(t):
        return "int", col.cast(pa.int64())
    if pa.types.is_floating(t):
        return "float", col.cast(pa.float64())
    if pa.types.is_date(t):
        return "date", col.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
    if pa.types.is_timestamp(t):
        if t.tz is not None:  # an instant: its wall clock in Beijing
            col = pc.local_timestamp(col.cast(pa.timestamp(t.unit, str(TZ))))
        return "timestamp", pc.cast(col, pa.timestamp("us"), safe=False).cast(pa.int64())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string", col.cast(pa.large_binary())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary", col.cast(pa.large_binary())
    if pa.types.is_decimal(t):
        return "decimal", col.cast(pa.string()).cast(pa.large_binary())
    raise ChecksumError(f"无法为 {t} 类型的列计算校验和", f"no checksum for a column of type {t}")


def _value_hashes(kind: str, col: pa.Array) -> np.ndarray:
    """64-bit hashes of the non-null values (nulls get arbitrary values: the caller replaces them)."""
    if kind == "null":
        return np.zeros(len(col), U64)
    if kind in ("string", "binary", "decimal"):
        return _bytes_hash(col.fill_null(b""))
    if kind == "float":
        v = col.fill_null(0.0).to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
        v[v == 0.0] = 0.0  # -0.0 is 0.0
        v[np.isnan(v)] = np.nan  # one NaN
        return _mix(v.view(U64))
    return _mix(col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64).view(U64))


def column_hashes(name: str, col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The 64-bit hash of each value of column ``name`` (NULL a value of its own)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    kind, canon = _canonical(col)
    seed = _name_seed(name)
    with np.errstate(over="ignore"):
        hashed = _mix(_value_hashes(kind, canon) ^ _TAGS[kind] ^ seed)
        if canon.null_count:
            valid = canon.is_valid().to_numpy(zero_copy_only=False)
            hashed = np.where(valid, hashed, _mix(np.array([_TAGS["null"] ^ seed], U64))[0])
    return hashed


def row_hashes(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """The 64-bit hash of each row, over its columns in name order."""
    h = np.full(batch.num_rows, _ROW_SEED, dtype=U64)
    with np.errstate(over="ignore"):
        for name in sorted(batch.schema.names):
            h = _mix(h * U64(31) + column_hashes(name, batch.column(name)))
    return h


class Checksum:
    """Rows and their order-independent checksum, fed batch by batch."""

    def __init__(self) -> None:
        self.rows = 0
        self._a = 0
        self._b = 0

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        if not batch.num_rows:
            return
        with np.errstate(over="ignore"):
            h = row_hashes(batch)
            self._a = (self._a + int(np.sum(h, dtype=U64))) % 2**64
            self._b = (self._b + int(np.sum(_mix(h ^ _SECOND), dtype=U64))) % 2**64
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        return f"{self._a:016x}{self._b:016x}"

    def feed(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Pass ``batches`` through, counting and hashing each on its way (one read does both jobs)."""
        for batch in batches:
            self.update(batch)
            yield batch


def checksum(batches: Iterable[pa.RecordBatch] | pa.Table) -> Checksum:
    """The checksum of a whole table or a stream of batches."""
    c = Checksum()
    for batch in batches.to_batches() if isinstance(batches, pa.Table) else batches:
        c.update(batch)
    return c

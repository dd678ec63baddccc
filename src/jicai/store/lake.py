"""The lake: jicai's own minimal table format on a folder both a client and a Spark cluster reach.

Layout under the lake's root (a local path, ``file://``, ``s3a://bucket/prefix``, ``hdfs://…``)::

    tables/<table>/<version>/part-*.parquet   one immutable folder per version of a table
    _jicai/manifests/<n>.json                  manifest n: which version folder each table is at
    _jicai/staging/<id>/…                      a transaction's uploads (deleted after it ends)

The current state is the manifest with the highest number, and a commit is the creation of manifest n+1,
made exclusively: a writer that lost the race gets :class:`LakeConflict` and the winner's state stands. So a
commit publishes every table it changed at once, and a writer killed before it leaves the previous manifest —
and every folder it names — whole. Nothing is ever written into a folder a manifest names.

Why not Delta Lake or Iceberg: their jars are not in the pyspark wheel, a bureau's offline network cannot
fetch them, and jicai needs only whole-table versions with an atomic switch (docs/spark.md, "The lake").

>>> import tempfile, pyarrow as pa
>>> lake = Lake(tempfile.mkdtemp())
>>> base = lake.current()
>>> base.version, base.tables
(0, {})
>>> folder = lake.new_version_dir("regions")
>>> lake.write_arrow(folder, pa.table({"region_code": ["340000"]}))
1
>>> lake.commit(base, {"regions": folder}).version
1
>>> lake.commit(base, {"regions": None})
Traceback (most recent call last):
...
jicai.store.lake.LakeConflict: ...
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from jicai import clock
from jicai.errors import BilingualError
from jicai.store.locking import this_command  # the words the DuckDB version file records too

LAKE_ENV = "JICAI_LAKE"
# A Parquet file per this many rows. Spark reads one file per task at least; and a table goes back to a client
# (the copy's verification, a copy out of the lake) one file per query, so a file's rows in Arrow must fit the
# Connect server's result limit (spark.driver.maxResultSize, 1 GB): 4 million facts rows were about 430 MB.
ROWS_PER_FILE = 1_000_000
TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


SPARK_SCHEMA_KEY = b"org.apache.spark.sql.parquet.row.metadata"  # the schema Spark writes into its Parquet files
SCHEMAS_KEPT = 4096  # version folders whose footer schemas a Lake remembers (Lake.spark_schema)


def spark_fields(schema: pa.Schema) -> list[dict] | None:
    """The fields of the schema Spark wrote into a Parquet file (``schema``, as pyarrow reads its footer):
    name, Spark type and nullability of each column; None when the file carries none (the client wrote it)."""
    raw = (schema.metadata or {}).get(SPARK_SCHEMA_KEY)
    try:
        fields = json.loads(raw)["fields"] if raw else None
        return fields if isinstance(fields, list) and all("name" in c for c in fields) else None
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class _Footer:
    """What a version folder's first Parquet footer says (read once: a version never changes)."""

    files: int  # Parquet files in the folder
    arrow: pa.Schema | None = None
    rows: int = 0  # rows of the first file
    spark: str | None = None  # the schema Spark wrote there (JSON), None where the client wrote the file


class LakeError(BilingualError, RuntimeError):
    """The lake cannot be used as asked (a bad URL, an unreadable manifest)."""


class LakeConflict(LakeError):
    """Another writer committed first: nothing of this commit is published, the other writer's state stands."""


@dataclass(frozen=True)
class Manifest:
    """Manifest ``version`` of a lake: each table's version folder, as the URI Spark reads."""

    version: int
    tables: dict[str, str] = field(default_factory=dict)
    at: str = ""  # when it was committed (Beijing time, ISO)
    by: str = ""  # the command that committed it


def _version_name() -> str:
    # sortable by creation time (vacuum spares young unnamed folders: they may be a running writer's)
    return f"v{time.time_ns() // 1_000_000:015d}-{uuid.uuid4().hex[:12]}"


def _created_ms(folder_name: str) -> int | None:
    m = re.fullmatch(r"v(\d{15})-[0-9a-f]{12}", folder_name)
    return int(m.group(1)) if m else None


class Lake:
    """A lake at ``url``, seen from the client through pyarrow's filesystem; Spark is given :meth:`spark_uri`."""

    def __init__(self, url: str) -> None:
        url = url.strip().rstrip("/")
        if not url:
            raise LakeError("数据湖地址为空:请用 --lake 或 JICAI_LAKE 指定一个客户端与集群都能访问的目录",
                            "the lake is empty: give --lake or JICAI_LAKE, a folder both the client and the "
                            "cluster reach")
        self.url = url
        scheme = urlparse(url).scheme
        if scheme in ("", "file"):
            root = urlparse(url).path if scheme == "file" else os.path.abspath(url)
            self.fs: pafs.FileSystem = pafs.LocalFileSystem()
            self._root, self._spark_root = root.rstrip("/") or "/", f"file://{root.rstrip('/')}"
        elif scheme in ("s3a", "s3", "hdfs", "viewfs", "gs", "abfs", "abfss"):
            # Hadoop (Spark) spells S3 "s3a"; pyarrow spells it "s3". The path after the scheme is the same.
            client = "s3" + url[len(scheme):] if scheme == "s3a" else url
            try:
                self.fs, self._root = pafs.FileSystem.from_uri(client)
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise LakeError(f"无法打开数据湖 {url}:{exc}", f"cannot open the lake {url}: {exc}") from None
            self._root = self._root.rstrip("/")
            self._spark_root = url
        else:
            raise LakeError(f"不支持的数据湖地址 {url}:应为本地目录、file://、s3a:// 或 hdfs://",
                            f"unsupported lake URL {url}: use a local folder, file://, s3a:// or hdfs://")
        # Exclusive creation is an atomic link on a local filesystem; object stores have no such call in
        # pyarrow, so there a commit checks and then writes (one writer at a time, docs/spark.md).
        self._atomic = isinstance(self.fs, pafs.LocalFileSystem)
        self._footers: dict[str, _Footer] = {}

    def __repr__(self) -> str:
        return f"Lake({self.url!r})"

    # -- names -----------------------------------------------------------------------------------------
    def spark_uri(self, path: str) -> str:
        """The URI Spark reads for ``path`` (relative to the lake's root)."""
        return f"{self._spark_root}/{path.strip('/')}"

    def _relative(self, uri: str) -> str:
        if not uri.startswith(self._spark_root + "/"):
            raise LakeError(f"{uri} 不在数据湖 {self.url} 内", f"{uri} is not inside the lake {self.url}")
        return uri[len(self._spark_root) + 1:]

    def _fs_path(self, relative: str) -> str:
        return f"{self._root}/{relative.strip('/')}"

    def files(self, dir_uri: str) -> list[str]:
        """The Parquet files of the version folder ``dir_uri``, as Spark URIs, in name order."""
        relative = self._relative(dir_uri)
        selector = pafs.FileSelector(self._fs_path(relative), allow_not_found=True)
        return sorted(self.spark_uri(f"{relative}/{info.base_name}") for info in self.fs.get_file_info(selector)
                      if info.type == pafs.FileType.File and info.base_name.endswith(".parquet"))

    def fs_paths(self, dir_uri: str) -> list[str]:
        """The Parquet files of the version folder ``dir_uri``, as paths of :attr:`fs` (the client's view)."""
        return [self._fs_path(self._relative(uri)) for uri in self.files(dir_uri)]

    def size(self, dir_uri: str) -> int:
        """The bytes of the Parquet files of the version folder ``dir_uri``."""
        return sum(info.size or 0 for info in self.fs.get_file_info(self.fs_paths(dir_uri)))

    def spark_schema(self, dir_uri: str) -> str | None:
        """The schema Spark wrote into the footer of the version folder's first Parquet file (JSON), or None
        (no file, or one the client wrote). A version never changes: each folder's footer is read once."""
        return self._footer(dir_uri).spark

    def arrow_schema(self, dir_uri: str) -> pa.Schema | None:
        """The Arrow schema of the version folder's first Parquet file (None: no file); read with
        :meth:`spark_schema`, once per folder."""
        return self._footer(dir_uri).arrow

    def empty_client_schema(self, dir_uri: str) -> pa.Schema | None:
        """The Arrow schema of the version folder ``dir_uri`` when it holds no row and the client wrote it (one
        file with no Spark schema in its footer: a table the importer created from the contract); else None.
        Such a version's next one may be written by the client in that very schema, with no Spark job."""
        footer = self._footer(dir_uri)
        return footer.arrow if footer.files == 1 and footer.rows == 0 and footer.spark is None else None

    def _footer(self, dir_uri: str) -> _Footer:
        if dir_uri not in self._footers:
            paths = self.fs_paths(dir_uri)
            footer = _Footer(len(paths))
            if paths:
                with self.fs.open_input_file(paths[0]) as f:
                    meta = pq.read_metadata(f)
                footer.arrow, footer.rows = meta.schema.to_arrow_schema(), meta.num_rows
                fields = spark_fields(footer.arrow)
                # only if it names the file's columns: Arrow data read from the lake keeps the key it had
                if fields is not None and [c["name"] for c in fields] == footer.arrow.names:
                    footer.spark = footer.arrow.metadata[SPARK_SCHEMA_KEY].decode()
            if len(self._footers) >= SCHEMAS_KEPT:
                self._footers.clear()
            self._footers[dir_uri] = footer
        return self._footers[dir_uri]

    # -- manifests -------------------------------------------------------------------------------------
    def _manifest_numbers(self) -> list[int]:
        selector = pafs.FileSelector(self._fs_path("_jicai/manifests"), allow_not_found=True)
        return sorted(int(m.group(1)) for info in self.fs.get_file_info(selector)
                      if (m := re.fullmatch(r"(\d+)\.json", info.base_name)))

    def _read_manifest(self, n: int) -> Manifest:
        path = self._fs_path(f"_jicai/manifests/{n}.json")
        try:
            with self.fs.open_input_stream(path) as f:
                d = json.loads(f.read().decode("utf-8"))
            tables = {name: self.spark_uri(rel) for name, rel in d["tables"].items()}
            return Manifest(int(d["version"]), tables, str(d.get("at", "")), str(d.get("by", "")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LakeError(f"数据湖清单无法读取:{path}({exc});请检查数据湖是否被手工改动",
                            f"the lake's manifest cannot be read: {path} ({exc}); check whether the lake was "
                            f"changed by hand") from None

    def current(self) -> Manifest:
        """The newest manifest (version 0 with no tables for an empty lake)."""
        numbers = self._manifest_numbers()
        return self._read_manifest(numbers[-1]) if numbers else Manifest(0)

    def manifest(self, version: int) -> Manifest:
        return self._read_manifest(version) if version else Manifest(0)

    # -- writing ---------------------------------------------------------------------------------------
    def new_version_dir(self, table: str) -> str:
        """A fresh folder for a new version of ``table`` (the URI Spark sees; not created yet)."""
        if not TABLE_NAME.fullmatch(table):
            raise LakeError(f"表名不合法:{table!r}", f"not a valid table name: {table!r}")
        return self.spark_uri(f"tables/{table}/{_version_name()}")

    def staging_dir(self) -> str:
        """A fresh folder for a transaction's uploads (removed by :meth:`remove` or, if abandoned, vacuum)."""
        return self.spark_uri(f"_jicai/staging/{_version_name()}")

    def write_arrow(self, dir_uri: str, data: pa.Table | pa.RecordBatchReader) -> int:
        """Write ``data`` as Parquet files into ``dir_uri`` (always at least one file, so an empty table keeps
        its schema); the number of rows. Naive timestamps stay naive (Spark reads them as TIMESTAMP_NTZ:
        the same wall-clock values whatever the session's time zone)."""
        folder = self._fs_path(self._relative(dir_uri))
        self.fs.create_dir(folder, recursive=True)
        reader = data.to_reader() if isinstance(data, pa.Table) else data
        part, rows_in_file, total, writer = 0, 0, 0, None
        try:
            for batch in reader:
                if writer is None or rows_in_file >= ROWS_PER_FILE:
                    if writer is not None:
                        writer.close()
                    writer = pq.ParquetWriter(f"{folder}/part-{part:05d}.parquet", reader.schema,
                                              filesystem=self.fs)
                    part, rows_in_file = part + 1, 0
                writer.write_batch(batch)
                rows_in_file += batch.num_rows
                total += batch.num_rows
            if writer is None:
                writer = pq.ParquetWriter(f"{folder}/part-00000.parquet", reader.schema, filesystem=self.fs)
        finally:
            if writer is not None:
                writer.close()
        return total

    def commit(self, base: Manifest, tables: dict[str, str | None]) -> Manifest:
        """Publish ``tables`` (a version folder each, None for a dropped table) over ``base`` as manifest
        base.version + 1; :class:`LakeConflict` if another writer made that manifest first."""
        new = dict(base.tables)
        for name, uri in tables.items():
            if uri is None:
                new.pop(name, None)
            else:
                self._relative(uri)  # a folder of this lake, or an error now rather than for every reader
                new[name] = uri
        version = base.version + 1
        manifest = Manifest(version, new, clock.stamp().isoformat(), this_command())
        body = json.dumps({"version": version, "at": manifest.at, "by": manifest.by,
                           "tables": {n: self._relative(u) for n, u in sorted(new.items())}},
                          ensure_ascii=False, indent=1).encode("utf-8")
        final = self._fs_path(f"_jicai/manifests/{version}.json")
        self.fs.create_dir(self._fs_path("_jicai/manifests"), recursive=True)
        if self._atomic:
            tmp = f"{final}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, final)  # fails if the file exists: the exclusive step, whole content at once
            except FileExistsError:
                raise self._conflict(base) from None
            finally:
                os.unlink(tmp)
        else:
            if self.fs.get_file_info(final).type != pafs.FileType.NotFound:
                raise self._conflict(base)
            with self.fs.open_output_stream(final) as f:
                f.write(body)
        return manifest

    def _conflict(self, base: Manifest) -> LakeConflict:
        return LakeConflict(
            f"数据湖 {self.url} 已被另一写入者更新(基于版本 {base.version} 的提交未生效,数据未受影响);请重试",
            f"another writer updated the lake {self.url} first (the commit over version {base.version} was not "
            f"published; nothing was lost); run it again")

    def remove(self, dir_uri: str) -> None:
        """Delete a folder no manifest names (an abandoned transaction's new versions or staging)."""
        path = self._fs_path(self._relative(dir_uri))
        if self.fs.get_file_info(path).type != pafs.FileType.NotFound:
            self.fs.delete_dir(path)

    # -- vacuum ----------------------------------------------------------------------------------------
    def vacuum(self, keep: int = 3, grace_seconds: float = 3600) -> list[str]:
        """Delete the version folders no manifest still in use names — the last ``keep`` ones and those
        committed less than ``grace_seconds`` ago (a reader that opened one of them still finds its files) —
        sparing folders younger than ``grace_seconds``: a running writer's uncommitted versions. Manifest
        files stay (they are small, and a stale writer must still find its number taken). The folders
        deleted, as Spark URIs."""
        numbers = self._manifest_numbers()
        recent = clock.now().timestamp() - grace_seconds  # epoch seconds, as the files' mtimes
        in_use = set(numbers[-max(keep, 1):])
        for info in self.fs.get_file_info([self._fs_path(f"_jicai/manifests/{n}.json") for n in numbers]):
            if info.mtime is not None and info.mtime.timestamp() > recent:
                in_use.add(int(info.base_name.split(".")[0]))
        kept = {self._relative(u) for n in in_use for u in self._read_manifest(n).tables.values()}
        young = recent * 1000
        deleted = []
        candidates = []
        for table in self.fs.get_file_info(pafs.FileSelector(self._fs_path("tables"), allow_not_found=True)):
            if table.type == pafs.FileType.Directory:
                selector = pafs.FileSelector(table.path, allow_not_found=True)
                candidates += [(f"tables/{table.base_name}/{v.base_name}", v) for v in self.fs.get_file_info(selector)]
        selector = pafs.FileSelector(self._fs_path("_jicai/staging"), allow_not_found=True)
        candidates += [(f"_jicai/staging/{s.base_name}", s) for s in self.fs.get_file_info(selector)]
        for relative, info in candidates:
            created = _created_ms(info.base_name)
            if info.type != pafs.FileType.Directory or relative in kept or created is None or created > young:
                continue
            self.fs.delete_dir(info.path)
            deleted.append(self.spark_uri(relative))
        return deleted

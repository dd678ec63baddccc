"""The lake's own format without Spark (issue 15): manifests, the exclusive commit, conflicts, vacuum, and the
Parquet the client writes. The Spark side is in test_store_connect.py.

Only local paths and ``file://`` are exercised: no S3 or HDFS is reachable here; their URLs are mapped to
pyarrow's filesystems in jicai.store.lake and documented in docs/spark.md."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jicai.errors import BilingualError
from jicai.store import connect, latest_version
from jicai.store import lake as lake_module
from jicai.store.lake import Lake, LakeConflict, LakeError, Manifest


def rows(n: int) -> pa.Table:
    return pa.table({"k": pa.array(range(n), pa.int64())})


def folder_of(lake: Lake, uri: str) -> Path:
    assert uri.startswith("file://")
    return Path(uri[len("file://"):])


def test_an_empty_lake_is_version_0_and_a_commit_makes_manifest_1(tmp_path):
    lake = Lake(str(tmp_path))
    assert lake.current() == Manifest(0)
    folder = lake.new_version_dir("orders")
    assert lake.write_arrow(folder, rows(3)) == 3
    m = lake.commit(lake.current(), {"orders": folder})
    assert (m.version, m.tables) == (1, {"orders": folder})
    on_disk = json.loads((tmp_path / "_jicai/manifests/1.json").read_text(encoding="utf-8"))
    # relative folders: the lake can be moved (copied to another bucket) without rewriting its manifests
    assert on_disk["tables"] == {"orders": folder[len(f"file://{tmp_path}/"):]}
    assert lake.current() == m
    assert pq.read_table(folder_of(lake, folder)).column("k").to_pylist() == [0, 1, 2]


def test_file_urls_and_paths_name_the_same_lake(tmp_path):
    Lake(str(tmp_path)).commit(Manifest(0), {})
    assert Lake(f"file://{tmp_path}").current().version == 1
    assert Lake(f"{tmp_path}/").spark_uri("tables/x") == f"file://{tmp_path}/tables/x"


def test_a_commit_publishes_several_tables_and_drops_at_once(tmp_path):
    lake = Lake(str(tmp_path))
    a, b = lake.new_version_dir("a"), lake.new_version_dir("b")
    for f in (a, b):
        lake.write_arrow(f, rows(1))
    one = lake.commit(lake.current(), {"a": a, "b": b})
    a2 = lake.new_version_dir("a")
    lake.write_arrow(a2, rows(2))
    two = lake.commit(one, {"a": a2, "b": None})
    assert two.tables == {"a": a2}
    assert lake.manifest(1).tables == {"a": a, "b": b}  # the earlier state is still readable


def test_the_second_writer_over_the_same_base_gets_a_conflict_and_the_first_state_stands(tmp_path):
    lake = Lake(str(tmp_path))
    base = lake.current()
    mine, theirs = lake.new_version_dir("orders"), lake.new_version_dir("orders")
    lake.write_arrow(mine, rows(1))
    lake.write_arrow(theirs, rows(2))
    lake.commit(base, {"orders": theirs})
    with pytest.raises(LakeConflict) as caught:
        lake.commit(base, {"orders": mine})
    assert isinstance(caught.value, BilingualError) and str(tmp_path) in caught.value.en
    assert "另一写入者" in caught.value.zh
    assert lake.current().tables == {"orders": theirs}
    # no temporary file is left beside the manifests
    assert sorted(p.name for p in (tmp_path / "_jicai/manifests").iterdir()) == ["1.json"]


def test_racing_writers_exactly_one_wins(tmp_path):
    lake = Lake(str(tmp_path))
    base = lake.current()
    results: list[str] = []
    start = threading.Barrier(8)

    def write(i: int) -> None:
        folder = lake.new_version_dir("t")
        lake.write_arrow(folder, rows(i))
        start.wait()
        try:
            lake.commit(base, {"t": folder})
            results.append("won")
        except LakeConflict:
            results.append("lost")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost"] * 7 + ["won"]
    assert lake.current().version == 1


def test_types_written_by_the_client_stay_what_they_were(tmp_path):
    lake = Lake(str(tmp_path))
    data = pa.table({
        "n": pa.array([2**40, None], pa.int64()),
        "s": pa.array(["甲", None], pa.string()),
        "d": pa.array([date(2024, 2, 29), None], pa.date32()),
        "t": pa.array([datetime(2024, 3, 1, 8, 30, 15, 123456), None], pa.timestamp("us")),
    })
    folder = lake.new_version_dir("x")
    lake.write_arrow(folder, data)
    back = pq.read_table(folder_of(lake, folder))
    assert back.equals(data)
    # naive timestamps are written as local wall-clock (isAdjustedToUTC = false): Spark reads TIMESTAMP_NTZ
    field = pq.ParquetFile(next(folder_of(lake, folder).glob("*.parquet"))).schema.column(3)
    assert json.loads(field.logical_type.to_json())["isAdjustedToUTC"] is False


def test_an_empty_table_keeps_its_schema_and_a_big_one_is_split_into_files(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path))
    empty = lake.new_version_dir("e")
    assert lake.write_arrow(empty, pa.schema([("code", pa.string())]).empty_table()) == 0
    assert pq.read_table(folder_of(lake, empty)).schema == pa.schema([("code", pa.string())])
    monkeypatch.setattr(lake_module, "ROWS_PER_FILE", 10)
    big = lake.new_version_dir("b")
    reader = pa.RecordBatchReader.from_batches(rows(0).schema, rows(25).to_batches(max_chunksize=5))
    assert lake.write_arrow(big, reader) == 25
    files = sorted(p.name for p in folder_of(lake, big).iterdir())
    assert files == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert sorted(pq.read_table(folder_of(lake, big)).column("k").to_pylist()) == list(range(25))


def test_vacuum_keeps_the_folders_of_the_last_and_of_recent_manifests_and_a_running_writers(tmp_path):
    lake = Lake(str(tmp_path))
    versions = []
    for i in range(5):
        f = lake.new_version_dir("t")
        lake.write_arrow(f, rows(i))
        lake.commit(lake.current(), {"t": f})
        versions.append(f)
    abandoned_staging = lake.staging_dir()
    lake.write_arrow(abandoned_staging + "/0", rows(1))
    running = lake.new_version_dir("t")  # a writer still working: young, named by no manifest
    lake.write_arrow(running, rows(1))
    assert lake.vacuum(keep=3, grace_seconds=3600) == []  # everything is young: nothing goes
    # age everything but the running writer's folder by renaming it back in time (the name holds its birth)
    def age(uri: str) -> str:
        path = folder_of(lake, uri)
        old = path.with_name(f"v{int(path.name[1:16]) - 7_200_000:015d}{path.name[16:]}")
        path.rename(old)
        return f"file://{old}"

    for i, f in enumerate(versions):
        versions[i] = age(f)
    old_staging = age(abandoned_staging)
    for n in range(1, 6):  # the manifests name the aged folders
        p = tmp_path / f"_jicai/manifests/{n}.json"
        d = json.loads(p.read_text(encoding="utf-8"))
        d["tables"]["t"] = versions[n - 1][len(f"file://{tmp_path}/"):]
        p.write_text(json.dumps(d), encoding="utf-8")
    # the manifests are all recent: a reader may have opened any of them, so their folders stay; the abandoned
    # staging goes
    assert lake.vacuum(keep=3) == [old_staging]
    for p in (tmp_path / "_jicai/manifests").iterdir():
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    deleted = lake.vacuum(keep=3)
    assert sorted(deleted) == sorted([versions[0], versions[1]])
    assert [folder_of(lake, f).exists() for f in versions] == [False, False, True, True, True]
    assert folder_of(lake, running).exists()
    assert lake.current().version == 5 and len(list((tmp_path / "_jicai/manifests").iterdir())) == 5


def test_a_folder_outside_the_lake_or_a_bad_name_is_refused(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(LakeError):
        lake.commit(Manifest(0), {"t": f"file://{tmp_path}/elsewhere"})
    with pytest.raises(LakeError):
        lake.new_version_dir("../t")
    with pytest.raises(LakeError) as caught:
        Lake("ftp://host/lake")
    assert "ftp://host/lake" in caught.value.en


def test_latest_version_of_a_sc_url_is_the_manifest_number_without_spark(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path))
    lake.commit(lake.commit(Manifest(0), {}), {})
    v = latest_version(f"sc://127.0.0.1:1/;lake={tmp_path}")
    assert v is not None and v.number == 2 and v.at
    monkeypatch.setenv("JICAI_LAKE", str(tmp_path))
    assert latest_version("sc://127.0.0.1:1").number == 2


def test_a_sc_url_without_a_lake_is_a_bilingual_error(monkeypatch):
    monkeypatch.delenv("JICAI_LAKE", raising=False)
    with pytest.raises(BilingualError) as caught:
        connect("sc://127.0.0.1:15002")
    assert "JICAI_LAKE" in caught.value.en and "--lake" in caught.value.zh


def test_an_unreachable_connect_server_is_a_quick_bilingual_error_naming_the_url(tmp_path):
    from jicai.store.spark_connect import ConnectUnreachable

    port = free_port()
    started = time.monotonic()
    with pytest.raises(ConnectUnreachable) as caught:
        connect(f"sc://127.0.0.1:{port}", lake=str(tmp_path))
    assert time.monotonic() - started < 10
    assert f"sc://127.0.0.1:{port}" in caught.value.en and f"sc://127.0.0.1:{port}" in caught.value.zh


def test_the_cli_says_an_unreachable_server_without_a_traceback(tmp_path):
    import subprocess
    import sys

    port = free_port()
    env = {**os.environ, "JICAI_WAREHOUSE_URL": f"sc://127.0.0.1:{port}", "JICAI_LAKE": str(tmp_path / "lake")}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "jicai.cli", "monitor", "--as-of", "2024-06-30"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode != 0
    said = out.stdout + out.stderr
    assert f"sc://127.0.0.1:{port}" in said and "无法连接" in said and "cannot reach" in said
    assert "Traceback" not in said
    assert time.monotonic() - started < 60  # mostly the CLI's own start-up


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_docs_name_the_urls_settings_and_format():
    doc = (Path(__file__).resolve().parents[1] / "docs/spark.md").read_text(encoding="utf-8")
    for needle in ("sc://host:15002", ";lake=", "pyspark://local[2]", "--lake", "JICAI_LAKE", "JICAI_WAREHOUSE_URL",
                   "JICAI_TEST_SPARK_URL", "JICAI_TEST_SPARK_LAKE", "s3a://", "hdfs://", "file://",
                   "_jicai/manifests/<n>.json", "Delta Lake", "One writer at a time", "Vacuum", "TIMESTAMP_NTZ"):
        assert needle in doc, f"docs/spark.md does not say {needle}"
    assert f"vacuum(keep={Lake.vacuum.__defaults__[0]})" in doc


def test_the_spark_schema_of_a_version_is_read_from_its_footer_when_it_names_its_columns(tmp_path):
    lake = Lake(str(tmp_path))
    spark = {"type": "struct", "fields": [
        {"name": "a", "type": "long", "nullable": True, "metadata": {}},
        {"name": "t", "type": "timestamp", "nullable": True, "metadata": {}}]}
    table = pa.table({"a": [1], "t": pa.array([datetime(2024, 1, 1)], pa.timestamp("us"))})

    def version(name: str, meta: dict | None) -> str:
        folder = lake.new_version_dir(name)
        data = table.replace_schema_metadata(meta)
        path = folder.removeprefix("file://")  # a local lake: Spark's URI is the path
        os.makedirs(path, exist_ok=True)
        pq.write_table(data, f"{path}/part-0.parquet")
        return folder

    key = lake_module.SPARK_SCHEMA_KEY
    spark_written = version("s", {key: json.dumps(spark)})
    client_written = version("c", None)
    renamed = version("r", {key: json.dumps({**spark, "fields": spark["fields"][:1]})})  # names a column less
    assert json.loads(lake.spark_schema(spark_written)) == spark
    assert lake.spark_schema(client_written) is None
    assert lake.spark_schema(renamed) is None
    assert lake.spark_schema(lake.new_version_dir("empty")) is None  # no file: Spark infers, as before

"""A batch names its policy: installed policy files, `jicai policy …`, and commands that follow the batch."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from tests.scenarios.runner import from_dict
from typer.testing import CliRunner

from jicai.cli import app
from jicai.policy import load_policy
from jicai.policy.models import DEFAULT_PATH
from jicai.policy.registry import PolicyNotFound, PolicyRegistry, resolve_policy
from jicai.store import connect

# H1 buys as much non-selected as selected: share exactly 0.5 — not excess by default, excess at 0.4.
SCENARIO = from_dict(dict(
    description="share 0.5", world="vbp", measure="jicai.measures.monitor:monitor",
    args={"as_of": date(2024, 7, 1)}, expect=[],
    agreements=[{"inst": "H1", "agreed": 1000}, {"inst": "H1", "agreed": 10, "variety": "V3", "batch": "B3"}],
    buys=[{"product": "P1", "packs": 30, "accepted": "2024-05-01"},
          {"product": "P1N", "packs": 30, "accepted": "2024-05-01"}],
))


def bureau_policy(tmp_path: Path, policy_id: str = "shaanxi-2024", share: str = "0.4") -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text.replace('id = "default"', f'id = "{policy_id}"', 1).replace("value = 0.5\n", f"value = {share}\n", 1)
    f = tmp_path / f"{policy_id}-file.toml"
    f.write_text(text, encoding="utf-8")
    return f


def warehouse(data: Path, policy_ids: dict[str, str | None]):
    """A DuckDB warehouse in ``data`` with the scenario, each batch naming the given policy."""
    wh = connect(f"duckdb:///{data / 'jicai.duckdb'}")
    for name, t in SCENARIO.tables.items():
        if name == "batches":
            ids = [policy_ids.get(b) for b in t.column("batch_id").to_pylist()]
            t = t.set_column(t.schema.get_field_index("policy_id"), "policy_id", pa.array(ids, pa.string()))
        wh.write_table(name, t)
    return wh


def invoke(data: Path, *args: str):
    return CliRunner().invoke(app, ["--data-dir", str(data), *args])


def test_validate_and_show(tmp_path):
    r = invoke(tmp_path, "policy", "validate", str(DEFAULT_PATH))
    assert r.exit_code == 0 and load_policy().version in r.output
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_PATH.read_text(encoding="utf-8").replace("value = 0.5\n", "value = 5.0\n", 1), encoding="utf-8")
    r = invoke(tmp_path, "policy", "validate", str(bad))
    assert r.exit_code == 1 and "nonselected_share_max" in r.output and "政策文件无效" in r.output
    r = invoke(tmp_path, "policy", "show", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["version"] == load_policy().version
    tiers = next(p for p in doc["parameter"] if p["name"] == "retention_tiers")
    assert tiers["value"][0] == [90.0, 0.5] and tiers["source"]
    r = invoke(tmp_path, "policy", "show", "--id", "nope")
    assert r.exit_code == 2 and "找不到政策" in r.output


def test_install_list_and_replace(tmp_path):
    data = tmp_path / "data"
    f = bureau_policy(tmp_path)
    r = invoke(data, "policy", "install", str(f))
    assert r.exit_code == 0, r.output
    assert (data / "policies" / "shaanxi-2024.toml").is_file()
    assert PolicyRegistry(data).get("shaanxi-2024").value("nonselected_share_max") == 0.4
    r = invoke(data, "policy", "install", str(bureau_policy(tmp_path, share="0.45")))
    assert r.exit_code == 2 and "--replace" in r.output
    assert PolicyRegistry(data).get("shaanxi-2024").value("nonselected_share_max") == 0.4
    r = invoke(data, "policy", "install", str(bureau_policy(tmp_path, share="0.45")), "--replace")
    assert r.exit_code == 0 and PolicyRegistry(data).get("shaanxi-2024").value("nonselected_share_max") == 0.45
    warehouse(data, {"B1": "shaanxi-2024", "B3": "ghost"}).close()
    r = invoke(data, "policy", "list")
    assert r.exit_code == 1 and "ghost" in r.output and "B1" in r.output


def test_a_batch_runs_with_the_policy_it_names(tmp_path):
    data = tmp_path / "data"
    wh = warehouse(data, {"B1": "shaanxi-2024", "B3": None})
    with pytest.raises(PolicyNotFound):
        resolve_policy(data, wh, "B1", None)
    assert resolve_policy(data, wh, "B3", None).version == load_policy().version  # blank = default
    with pytest.raises(LookupError, match="--batch"):
        resolve_policy(data, wh, None, None)  # batches name different policies
    wh.close()
    r = invoke(data, "monitor", "--as-of", "2024-07-01", "--batch", "B1", "--format", "json",
               "--out", str(tmp_path / "m.json"))
    assert r.exit_code == 2 and "shaanxi-2024" in r.output and "jicai policy install" in r.output

    assert invoke(data, "policy", "install", str(bureau_policy(tmp_path))).exit_code == 0
    r = invoke(data, "monitor", "--as-of", "2024-07-01", "--batch", "B1", "--format", "json",
               "--out", str(tmp_path / "m.json"))
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    installed = PolicyRegistry(data).get("shaanxi-2024")
    assert doc["policy_version"] == installed.version != load_policy().version
    assert doc["rows"][0]["nonselected_share"] == 0.5 and doc["rows"][0]["nonselected_excess"] is True

    # --policy overrides the batch's policy
    r = invoke(data, "monitor", "--as-of", "2024-07-01", "--batch", "B1", "--format", "json",
               "--out", str(tmp_path / "d.json"), "--policy", str(DEFAULT_PATH))
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert doc["policy_version"] == load_policy().version and doc["rows"][0]["nonselected_excess"] is False

    r = invoke(data, "monitor", "--as-of", "2024-07-01", "--format", "json", "--out", str(tmp_path / "all.json"))
    assert r.exit_code == 2 and "--batch" in r.output

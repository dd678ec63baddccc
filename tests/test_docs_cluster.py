"""docs/spark.md cannot drift from scripts/spark_cluster.sh and scripts/services.sh: every setting the cluster
script reads and every variable services.sh exports for the Spark tests is in the page's tables, with the default
the script really uses, and each of the script's commands is shown."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "spark.md").read_text(encoding="utf-8")
SCRIPT = (ROOT / "scripts" / "spark_cluster.sh").read_text(encoding="utf-8")
SERVICES = (ROOT / "scripts" / "services.sh").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    start = DOC.index(f"\n## {heading}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:] if end < 0 else DOC[start:end]


def test_every_setting_of_the_cluster_script_is_in_the_table_with_its_default():
    table = dict(re.findall(r"^\| `(JICAI_\w+)` \| ([^|]+?) \|", _section("A local cluster"), flags=re.M))
    read = dict(re.findall(r"\$\{(JICAI_\w+):-([^}]*)\}", SCRIPT))
    assert set(table) == set(read), f"documented {sorted(table)} but the script reads {sorted(read)}"
    for name, default in read.items():
        shown = table[name].strip("`")
        if default:
            assert shown == default, f"{name}: the script's default is {default!r}, docs/spark.md says {shown!r}"
        else:
            assert not re.search(r"\d", shown), f"{name} has no default in the script, docs/spark.md says {shown!r}"


def test_the_variables_services_sh_exports_for_spark_are_documented():
    exported = set(re.findall(r'echo "export (JICAI_TEST_SPARK_\w+)=', SERVICES))
    assert exported == {"JICAI_TEST_SPARK_URL", "JICAI_TEST_SPARK_LAKE"}
    for name in exported:
        assert f"`{name}" in _section("A local cluster"), f"{name} is not explained in docs/spark.md"


def test_the_commands_of_the_script_are_shown():
    commands = set(re.findall(r"^  (\w+)\) cmd_", SCRIPT, flags=re.M))
    assert commands == {"start", "stop", "status"}
    for c in commands:
        assert f"scripts/spark_cluster.sh {c}" in DOC

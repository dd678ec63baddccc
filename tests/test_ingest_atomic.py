"""A process killed inside the import transaction leaves nothing half-loaded but a "started" trace in _load_log, and
a re-import then works and says the earlier one was interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import kill_at_marker

from helpers_ingest import ORDER_HEADER, order_row, write_csv, write_reference
from jicai.ingest import import_paths
from jicai.store import connect


def test_sigkill_inside_the_transaction_leaves_nothing(tmp_path):
    data_dir = tmp_path / "data"
    url = f"duckdb:///{data_dir / 'jicai.duckdb'}"
    with connect(url) as wh:
        import_paths(wh, [write_reference(tmp_path / "ref")[0].parent])
    orders = write_csv(tmp_path / "in" / "orders.csv", [ORDER_HEADER] + [order_row(i) for i in range(1, 501)])
    env = {**os.environ, "JICAI_DATA_DIR": str(data_dir), "JICAI_TEST_PAUSE_IN_TRANSACTION": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "jicai.cli", "import", str(orders)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the loader prints this line after its inserts and before COMMIT
    kill_at_marker(proc, "JICAI_PAUSED_IN_TRANSACTION", 120)
    assert proc.returncode == -signal.SIGKILL
    with connect(url) as wh:
        con = wh.con.con
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (0,)
        # the one trace: the "started" row written before the file was read, in its own transaction
        assert con.execute("SELECT status, rows_loaded, finished_at FROM _load_log WHERE \"table\" = 'orders'"
                           ).fetchall() == [("started", 0, None)]
        assert con.execute("SELECT count(*) FROM _quarantine").fetchone() == (0,)
        (r,) = import_paths(wh, [orders])
        assert (r.status, r.rows_loaded) == ("loaded", 500)
        assert any("此前一次导入（orders.csv" in m and "被中断" in m and "was interrupted" in m for m in r.messages)
        assert con.execute("SELECT status FROM _load_log WHERE \"table\" = 'orders' ORDER BY started_at").fetchall() \
            == [("interrupted",), ("ok",)]
        assert con.execute("SELECT count(*), count(DISTINCT order_line_id) FROM orders").fetchone() == (500, 500)

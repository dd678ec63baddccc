"""Where jicai keeps its data, resolved once for the CLI and the library.

Order: the ``--data-dir`` option, else ``$JICAI_DATA_DIR``, else ``./jicai-data``. The warehouse URL
is ``$JICAI_WAREHOUSE_URL`` if set, else a DuckDB file inside the data directory. A Spark Connect warehouse
(``sc://host:port``) also needs a lake, ``--lake`` / ``$JICAI_LAKE`` (docs/spark.md).

:data:`SETTINGS` declares the limits a bureau may tune through the environment (the importer's plausible dates
and file-size caps, the web's login budgets and trusted proxies); :func:`setting` reads one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jicai.errors import BilingualError
from jicai.store import Warehouse, connect, default_url


@dataclass
class Settings:
    data_dir: Path
    warehouse_url: str
    lake: str | None = None  # the lake of a sc:// warehouse; None: the URL's ;lake= or $JICAI_LAKE

    @classmethod
    def resolve(cls, data_dir: Path | None = None, warehouse_url: str | None = None,
                lake: str | None = None) -> Settings:
        d = Path(data_dir or os.environ.get("JICAI_DATA_DIR") or "jicai-data")
        url = warehouse_url or os.environ.get("JICAI_WAREHOUSE_URL") or default_url(d)
        return cls(data_dir=d, warehouse_url=url, lake=lake or os.environ.get("JICAI_LAKE") or None)

    def warehouse(self, mode: str = "write") -> Warehouse:
        """The warehouse opened to ``mode`` it: "read" for commands that only compute (many at once, beside
        ``jicai serve``), "write" for those that change it (one at a time; see :mod:`jicai.store.locking`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return connect(self.warehouse_url, mode, lake=self.lake)


# -- tunable limits: one declared table (documented in docs/data-contract.md and docs/web.md) -----------------------
@dataclass(frozen=True)
class Setting:
    """A limit a bureau may change through the environment variable ``env``; ``kind`` is "int" (≥ 0), "date" or
    "text" (read as given; its user parses it)."""

    name: str
    env: str
    default: int | str
    kind: str
    zh: str
    en: str


SETTINGS: tuple[Setting, ...] = (
    Setting("date_floor", "JICAI_IMPORT_DATE_FLOOR", "2000-01-01", "date",
            "任何日期不得早于此日", "no date in a file may be earlier than this day"),
    Setting("years_before_cycle", "JICAI_IMPORT_YEARS_BEFORE_CYCLE", 2, "int",
            "日期最早可在最早批次执行日之前多少年", "years a date may lie before the earliest batch's start"),
    Setting("years_after_cycle", "JICAI_IMPORT_YEARS_AFTER_CYCLE", 2, "int",
            "日期最晚可在最晚批次采购周期结束之后多少年", "years a date may lie after the latest batch's cycle ends"),
    Setting("future_days", "JICAI_IMPORT_FUTURE_DAYS", 31, "int",
            "已发生的事件（下单、配送、回款、结算等）最晚可在导入当日之后多少天",
            "days an event that has happened (order, delivery, payment, settlement…) may lie after the import day"),
    Setting("plan_years", "JICAI_IMPORT_PLAN_YEARS", 10, "int",
            "计划日期（执行日、特殊期、生效日等）最晚可在导入当日之后多少年",
            "years a planned date (a batch's start, a special period, an effective date…) may lie after the "
            "import day"),
    Setting("xlsx_max_mb", "JICAI_IMPORT_XLSX_MAX_MB", 200, "int",
            "Excel 文件大小上限（MB，压缩后）", "largest Excel file accepted (MB, as stored, compressed)"),
    Setting("xlsx_max_xml_mb", "JICAI_IMPORT_XLSX_MAX_XML_MB", 512, "int",
            "Excel 文件解压后内容上限（MB）", "largest content of an Excel file once decompressed (MB)"),
    Setting("xlsx_max_sheets", "JICAI_IMPORT_XLSX_MAX_SHEETS", 50, "int",
            "Excel 文件工作表数上限", "most sheets an Excel file may have"),
    Setting("xlsx_max_rows", "JICAI_IMPORT_XLSX_MAX_ROWS", 1_048_576, "int",
            "每个工作表的行数上限", "most rows a sheet may have"),
    Setting("xlsx_max_cells", "JICAI_IMPORT_XLSX_MAX_CELLS", 30_000_000, "int",
            "每个工作表的单元格数上限（行数×列数）", "most cells a sheet may span (rows × columns)"),
    Setting("csv_max_row_kb", "JICAI_IMPORT_CSV_MAX_ROW_KB", 1024, "int",
            "CSV 单行长度上限（KB）；更长的行被隔离", "longest CSV row (KB); a longer row is quarantined"),
    # the web's sign-in (documented in docs/web.md, "Signing in")
    Setting("trusted_proxies", "JICAI_TRUSTED_PROXIES", "", "text",
            "可信反向代理的地址（逗号分隔的 IP 或网段）；只有来自它们的 X-Forwarded-For 被采信",
            "addresses of trusted reverse proxies (comma-separated IPs or networks); X-Forwarded-For is believed "
            "from them only"),
    Setting("login_address_failures", "JICAI_LOGIN_ADDRESS_FAILURES", 20, "int",
            "同一客户端地址在时间窗内允许的登录失败次数（不论用户名）",
            "failed logins one client address may make within the window, whatever the names"),
    Setting("login_global_failures", "JICAI_LOGIN_GLOBAL_FAILURES", 200, "int",
            "全平台在时间窗内允许的登录失败次数；超过后只有常用地址可登录",
            "failed logins the whole platform may see within the window; beyond it only known addresses log in"),
    Setting("login_concurrency", "JICAI_LOGIN_CONCURRENCY", 2, "int",
            "每个服务进程同时进行的密码校验（argon2，每次 64 MiB）上限",
            "password checks (argon2, 64 MiB each) one server process runs at once"),
    # the alerts' digests (documented in docs/web.md, "Alerts"; jicai.workflow.alert_inbox)
    Setting("alerts_min_severity", "JICAI_ALERTS_MIN_SEVERITY", "medium", "text",
            "进入月度摘要的最低严重程度（medium 或 high）",
            "lowest severity an alert needs to enter the monthly digest (medium or high)"),
    Setting("alerts_min_stake", "JICAI_ALERTS_MIN_STAKE", 0, "int",
            "涉及金额低于此数（元）的预警不进入摘要；无金额的预警不受此限",
            "an alert whose amount at stake is below this (yuan) stays out of the digest; alerts without one are kept"),
    Setting("alerts_min_overdue", "JICAI_ALERTS_MIN_OVERDUE", 0, "int",
            "逾期未回款金额低于此数（元）的回款逾期预警不进入收件箱和摘要（0：一分钱也提醒）",
            "a payment-overdue alert whose overdue amount is below this (yuan) stays out of the inbox and the digest "
            "(0: even a fen is reported)"),
    Setting("alerts_quiet_months", "JICAI_ALERTS_QUIET_MONTHS", 0, "int",
            "静默期：同一预警在此前若干个月已发送过的，本月只进收件箱、不再发送邮件或群消息",
            "quiet period: an alert already sent in the previous N months goes to the inbox only, not by e-mail or webhook"),
    Setting("alerts_quiet_hours", "JICAI_ALERTS_QUIET_HOURS", "", "text",
            "免打扰时段（本地时间，如 22-8）：此时段内不发送，仅写入收件箱",
            "quiet hours (local time, e.g. 22-8): nothing is sent then, the inbox is still filled"),
    Setting("alerts_smtp_host", "JICAI_ALERTS_SMTP_HOST", "", "text",
            "发送预警邮件的 SMTP 服务器地址（空：不发邮件）", "SMTP server the alert e-mails go through (blank: no e-mail)"),
    Setting("alerts_smtp_port", "JICAI_ALERTS_SMTP_PORT", 25, "int",
            "SMTP 端口", "SMTP port"),
    Setting("alerts_mail_from", "JICAI_ALERTS_MAIL_FROM", "jicai@localhost", "text",
            "预警邮件的发件人地址", "sender address of the alert e-mails"),
    Setting("alerts_webhook_timeout", "JICAI_ALERTS_WEBHOOK_TIMEOUT", 10, "int",
            "调用群机器人 webhook 的超时（秒）", "timeout of a group-robot webhook call (seconds)"),
)
SETTING = {s.name: s for s in SETTINGS}


class SettingError(BilingualError, ValueError):
    """An environment variable of :data:`SETTINGS` holds a value of the wrong kind."""


def setting(name: str, env: dict[str, str] | None = None) -> int | date | str:
    """The value of setting ``name``: its environment variable when set, else its default."""
    s = SETTING[name]
    raw = str((os.environ if env is None else env).get(s.env, "")).strip() or str(s.default)
    if s.kind == "text":
        return raw
    try:
        if s.kind == "date":
            return date.fromisoformat(raw)
        value = int(raw)
        if value >= 0:
            return value
    except ValueError:
        pass
    kind_zh, kind_en = ("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)") if s.kind == "date" else ("非负整数", "a whole number ≥ 0")
    raise SettingError(f"环境变量 {s.env} 应为{kind_zh}：{raw}", f"{s.env} must be {kind_en}: {raw}")

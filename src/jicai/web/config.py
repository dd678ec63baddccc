"""Settings of the web platform, resolved from the environment.

Development (the default, and ``jicai demo``): the workflow database is a SQLite file in the data directory
and the secret key is generated once and kept in ``<data>/secret_key`` (mode 0600). Production
(``JICAI_ENV=production``) refuses to start unless the secret key, a PostgreSQL workflow database and the
warehouse are given explicitly — a server that silently made its own key or database would lose every
session and decision at the next restart.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from jicai.errors import BilingualError
from jicai.settings import SETTING, SettingError, Settings, setting


class ConfigError(BilingualError):
    """A missing or unsafe setting: the server refuses to start."""


@dataclass
class WebConfig:
    data_dir: Path
    warehouse_url: str
    workflow_url: str
    secret_key: str
    production: bool = False
    session_max_age: int = 8 * 3600  # seconds a page login lasts
    token_ttl: int = 3600  # seconds an API bearer token lasts
    login_attempts: int = 5  # failed logins per name and client address …
    login_window: int = 300  # … within this many seconds, then refused until the window passes
    login_address_failures: int = 20  # failed logins per client address (any names) within the window
    login_global_failures: int = 200  # failed logins platform-wide within the window (see workflow/logins.py)
    login_concurrency: int = 2  # argon2 checks at once in this process (64 MiB each)
    login_wait: float = 0.5  # seconds a login waits for an argon2 slot before "busy, retry" (503)
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For is believed (IPs or networks)
    cache_mb: float = 512  # the result cache's budget: megabytes of Arrow rows kept (least recently used go)
    memo_entries: int = 4096  # finished page figures kept
    wait: float = 20.0  # seconds a request waits for a computation (or the write lock) before "computing, retry"
    workers: int = 1  # background computations at once (more: see docs/web.md)
    warm: bool = True  # compute every dataset's default figures at startup and after each change of the data

    @classmethod
    def resolve(cls, settings: Settings, env: dict[str, str] | None = None) -> WebConfig:
        env = dict(os.environ if env is None else env)
        production = env.get("JICAI_ENV", "").lower() == "production"
        if production:
            missing = [k for k in ("JICAI_SECRET_KEY", "JICAI_WORKFLOW_URL", "JICAI_WAREHOUSE_URL") if not env.get(k)]
            if missing:
                raise ConfigError(f"生产环境缺少设置:{', '.join(missing)}",
                                  f"production settings missing: {', '.join(missing)} (see docs/web.md)")
            if not env["JICAI_WORKFLOW_URL"].startswith(("postgresql", "postgres")):
                raise ConfigError("生产环境的工作流数据库须为 PostgreSQL(JICAI_WORKFLOW_URL)",
                                  "in production JICAI_WORKFLOW_URL must be a PostgreSQL URL")
            if len(env["JICAI_SECRET_KEY"]) < 32:
                raise ConfigError("JICAI_SECRET_KEY 至少 32 个字符", "JICAI_SECRET_KEY needs at least 32 characters")
        data_dir = settings.data_dir
        return cls(
            data_dir=data_dir,
            warehouse_url=env.get("JICAI_WAREHOUSE_URL") or settings.warehouse_url,
            workflow_url=env.get("JICAI_WORKFLOW_URL") or default_workflow_url(data_dir),
            secret_key=env.get("JICAI_SECRET_KEY") or _local_secret(data_dir),
            production=production,
            cache_mb=_number(env, "JICAI_WEB_CACHE_MB", 512, minimum=1),
            memo_entries=int(_number(env, "JICAI_WEB_MEMO_ENTRIES", 4096, minimum=1)),
            wait=_number(env, "JICAI_WEB_WAIT", 20.0, minimum=0),
            workers=int(_number(env, "JICAI_WEB_WORKERS", 1, minimum=1)),
            warm=env.get("JICAI_WEB_WARM", "1").strip().lower() not in ("0", "false", "no", "off"),
            trusted_proxies=_proxies(env),
            **{name: _positive(env, name) for name in ("login_address_failures", "login_global_failures",
                                                       "login_concurrency")},
        )


def default_workflow_url(data_dir: Path) -> str:
    """The development workflow database: a SQLite file in the data directory."""
    return f"sqlite:///{(Path(data_dir) / 'workflow.sqlite').resolve()}"


def _number(env: dict[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name} 应为 ≥ {minimum:g} 的数:{raw}", f"{name} must be a number ≥ {minimum:g}: {raw}")
    return value


def _local_secret(data_dir: Path) -> str:
    """A random key kept beside the data, so that sessions survive a restart of the development server."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _positive(env: dict[str, str], name: str) -> int:
    """A whole-number setting of :data:`jicai.settings.SETTINGS` that must be at least 1 (0 would refuse every
    login, which nobody means)."""
    try:
        value = int(setting(name, env))
    except SettingError as e:
        raise ConfigError(e.zh, e.en) from None
    if value < 1:
        variable = SETTING[name].env
        raise ConfigError(f"{variable} 应为 ≥ 1 的整数:{value}", f"{variable} must be a whole number ≥ 1: {value}")
    return value


def _proxies(env: dict[str, str]) -> tuple[str, ...]:
    """``JICAI_TRUSTED_PROXIES``: IP addresses or networks, comma-separated (blank: trust no proxy)."""
    import ipaddress

    items = tuple(p.strip() for p in str(setting("trusted_proxies", env)).split(",") if p.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"JICAI_TRUSTED_PROXIES 中的 {item!r} 不是 IP 地址或网段",
                              f"JICAI_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
    return items


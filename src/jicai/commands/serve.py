"""``jicai serve``: the web platform (pages and API) over the warehouse, with uvicorn.

Development: one process, the workflow database a SQLite file in the data directory, a generated secret key.
Production (``JICAI_ENV=production``): the settings must be given (docs/web.md) or the server refuses to start.
"""

from __future__ import annotations

import typer

from jicai.console import fail, out


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="监听地址 / address to listen on"),
        port: int = typer.Option(8000, "--port", help="端口 / port"),
        workers: int = typer.Option(1, "--workers", help="进程数(DuckDB 数据仓库只能 1) / worker processes "
                                                         "(1 with a DuckDB warehouse)"),
    ) -> None:
        """网页与接口服务 / serve the web pages and the JSON API."""
        import uvicorn

        from jicai.web.app import create_app
        from jicai.web.config import ConfigError, WebConfig

        try:
            config = WebConfig.resolve(ctx.obj)
        except ConfigError as exc:
            fail(exc.zh, exc.en)
        if workers > 1 and config.warehouse_url.startswith("duckdb"):
            fail("DuckDB 数据仓库只能由一个进程打开:请用 --workers 1,或改用 PostgreSQL 数据仓库",
                 "a DuckDB warehouse is opened by one process only: use --workers 1 or a PostgreSQL warehouse")
        out.print(f"jicai 网页服务 / web: http://{host}:{port}/  (API 文档,登录后可见 / API docs, after login: http://{host}:{port}/docs)")
        if workers > 1:
            # uvicorn's workers import the app by name; the factory reads the same environment
            uvicorn.run("jicai.web.app:app_from_env", host=host, port=port, workers=workers, factory=True,
                        proxy_headers=False)
        else:
            # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the app believes
            # it from JICAI_TRUSTED_PROXIES only (jicai.web.app._proxies)
            uvicorn.run(create_app(config), host=host, port=port, proxy_headers=False, log_level="warning")

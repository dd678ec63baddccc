"""The web platform (``jicai serve``): pages and a JSON API over the same measures as the command line.

HTTP only: the workflow's tables and rules live in :mod:`jicai.workflow`, roles and scopes in
:mod:`jicai.contract.roles`; this package turns requests into calls to them.

- :mod:`jicai.web.config` — settings, with fail-fast checks for production.
- :mod:`jicai.web.scope` — the one place where a principal's scope is applied to a query.
- :mod:`jicai.web.auth` — passwords, sessions, CSRF, login rate limit, API tokens.
- :mod:`jicai.web.app` — the FastAPI application factory.
"""

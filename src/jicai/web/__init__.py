"""The web platform (``jicai serve``): pages and a JSON API over the same measures as the command line.

- :mod:`jicai.web.config` — settings, with fail-fast checks for production.
- :mod:`jicai.web.principal` — who is asking (role and scope).
- :mod:`jicai.web.scope` — the one place where a principal's scope is applied to a query.
- :mod:`jicai.web.workflow` — the workflow database (users, supply-problem reports, exemptions, actions, audit).
- :mod:`jicai.web.auth` — passwords, sessions, CSRF, login rate limit, API tokens.
- :mod:`jicai.web.app` — the FastAPI application factory.
"""

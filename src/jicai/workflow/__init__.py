"""The workflow domain: users, supply-problem reports and their verification, special-variety exemptions,
supervision actions (提醒/约谈/通报) and the audit log, in the workflow database. The web pages and the CLI
(``jicai db``, ``jicai users``, ``jicai demo``) both use it; it never imports the web.

- :mod:`.models` — the tables (SQLAlchemy 2 typed ORM); :mod:`.migrations` — their Alembic history.
- :mod:`.db` — ``Workflow.open(url)``: engine, sessions, schema upgrade.
- :mod:`.users` — create, disable and authenticate users (argon2); ``ensure_user`` for the demo.
- :mod:`.audit` — one row per write, in the writer's transaction.
- :mod:`.decisions` — filing and deciding supply-problem reports, exemptions and actions, and the rows
  they write into the warehouse so that the measures follow.
- :mod:`.lookups` — the warehouse's reference rows the decisions check against, cached per generation;
  :mod:`.warehouse` — the few methods the workflow needs of the warehouse service it is handed.
"""

from jicai.workflow.db import Workflow

__all__ = ["Workflow"]

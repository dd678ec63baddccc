"""Who is asking: a user's role and scope, as every query sees it.

Roles (DESIGN.md "Users"): ``admin`` and ``bureau`` staff see the province (a district bureau's scope is a
region-code prefix, e.g. ``3505`` for 泉州); ``institution`` users see one institution (scope = its
institution_code); ``enterprise`` users see their own products (scope = the enterprise_code, manufacturer
or distributor); ``auditor`` reads what the bureau reads and changes nothing.

The roles are vocabulary shared by every layer that names them — the workflow's users, the measures' and
pages' audiences, the web's scope filter — so they sit in the contract, below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("admin", "bureau", "institution", "enterprise", "auditor")
ROLE_ZH = {"admin": "系统管理员", "bureau": "医保局", "institution": "医疗机构", "enterprise": "企业",
           "auditor": "审计"}
# roles whose scope is a region prefix (blank = the whole province)
REGIONAL = ("admin", "bureau", "auditor")
# roles that may change what the workflow decides (verify reports, exemptions, supervision actions)
DECIDERS = ("admin", "bureau")


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    role: str
    scope: str = ""  # region prefix (regional roles), institution_code, or enterprise_code

    @property
    def regional(self) -> bool:
        return self.role in REGIONAL

    @property
    def decides(self) -> bool:
        return self.role in DECIDERS

    @property
    def province_wide(self) -> bool:
        return self.regional and not self.scope

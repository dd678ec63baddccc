"""The roles a user can have (DESIGN.md "Security model"), named once for the measures, the workflow and the web.

``admin`` and ``bureau`` staff see the province (a district bureau's scope is a region-code prefix);
``institution`` users see one institution; ``enterprise`` users their own products; ``auditor`` reads what the
bureau reads and changes nothing.
"""

ROLES = ("admin", "bureau", "institution", "enterprise", "auditor")
ROLE_ZH = {"admin": "系统管理员", "bureau": "医保局", "institution": "医疗机构", "enterprise": "企业",
           "auditor": "审计"}

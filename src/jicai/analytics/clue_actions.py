"""The supervision action a clue points to (医保发〔2024〕31号: 提醒教育、约谈、通报).

The workflow records these actions (``jicai.workflow.models.ACTIONS``, the page /actions and the API
/api/actions); analytics sit below the workflow and may not import it, so the codes are repeated here and
tests/test_clues.py checks that they are the workflow's. A clue only *suggests* the first step: one signal →
提醒教育 (remind), two or more → 约谈 (interview). 通报 (notice) is the bureau's step once a clue it followed
up is confirmed or persists after an interview: no figure decides it, so no clue suggests it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

# code → (中文, English); the codes are the workflow's action codes
ACTIONS: dict[str, tuple[str, str]] = {
    "remind": ("提醒教育", "remind and educate (one signal)"),
    "interview": ("约谈", "interview (two or more signals)"),
    "notice": ("通报", "notice: the bureau's step after a follow-up, never suggested by a figure"),
}
ACTIONS_PAGE = "/actions"  # the workflow page where a bureau user records the action taken
CLUE_NOTE = "线索仅供核查,不作认定"  # every clue says it: a clue is no verdict


def suggested(signals: ir.IntegerValue) -> ir.StringValue:
    """remind for one signal, interview for two or more."""
    return ibis.ifelse(signals >= 2, "interview", "remind")


def action_text(action: ir.StringValue, target_zh: str) -> ir.StringValue:
    """The sentence ending every clue's reasons: what it is, and the action it points to."""
    zh = ibis.ifelse(action == "interview", ACTIONS["interview"][0], ACTIONS["remind"][0])
    return f"。{CLUE_NOTE};建议对该{target_zh}采取措施:" + zh + f"(在 {ACTIONS_PAGE} 登记)"

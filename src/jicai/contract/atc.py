"""The ATC class a national drug code (医保药品编码) carries.

A western-drug code (西药, 23 characters) is ``X`` followed by the WHO ATC code of its chemical subgroup
(ATC level 4: anatomical group, therapeutic subgroup, pharmacological subgroup, chemical subgroup, e.g.
C10AA = HMG CoA reductase inhibitors), then the NHSA's own characters for the substance, dosage form,
strength and maker. So characters 2–6 are the ATC level-4 class; the substance (ATC level 5, e.g. C10AA05
atorvastatin) is not in the code. Chinese patent medicines (Z…) are coded by TCM category and consumables
and IVD reagents (C…) by the consumable classification: neither has an ATC class.

>>> atc4("XC10AAA067A001010101445")
'C10AA'
>>> atc4("XC10AAA067")          # the class needs only the first six characters
'C10AA'
>>> atc4("C0101010010100103941") is None    # a consumable: no ATC class
True
>>> atc4("ZA01AAA0001010101444") is None    # a Chinese patent medicine: TCM category, not ATC
True
>>> atc4("XQ10AAA067") is None  # Q is not an ATC anatomical main group
True
"""

from __future__ import annotations

import re

# the fourteen anatomical main groups of the ATC classification
ATC_MAIN_GROUPS = "ABCDGHJLMNPRSV"
_ATC4 = re.compile(rf"^X([{ATC_MAIN_GROUPS}]\d{{2}}[A-Z]{{2}})")


def atc4(product_code: str | None) -> str | None:
    """The ATC level-4 class of a western-drug code (its characters 2–6), else None (see the module doc)."""
    if not product_code:
        return None
    m = _ATC4.match(product_code.strip().upper())
    return m.group(1) if m else None

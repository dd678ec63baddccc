"""The Chinese and English names of the contract's coded values (the ``choices`` of contract/tables.py), named once
for every measure, report and page that shows them.

>>> PROBLEMS["late"][0], CHANNELS["offline"][0]
('配送不及时', '线下采购')
"""

from __future__ import annotations

Names = dict[str, tuple[str, str]]

PROBLEMS: Names = {"shortage": ("短缺断供", "shortage"), "late": ("配送不及时", "late delivery"),
                   "selective": ("选择性配送", "selective delivery"), "other": ("其他", "other")}
SPECIALS: Names = {"shortage": ("短缺药品", "shortage"), "emergency": ("急抢救药品", "emergency"),
                   "seasonal": ("季节性用药", "seasonal"), "demand_change": ("需求变化", "demand change")}
CHANNELS: Names = {"platform": ("平台采购", "on the platform"), "offline": ("线下采购", "offline")}
SUPPLY_ROLES: Names = {"primary": ("主供", "primary"), "backup": ("备供", "backup")}
LISTING_STATUSES: Names = {"listed": ("挂网", "listed"), "suspended": ("暂停", "suspended"),
                           "delisted": ("撤网", "delisted")}
CATEGORIES: Names = {"drug": ("药品", "drug"), "consumable": ("医用耗材", "consumable"),
                     "reagent": ("检验试剂", "reagent")}
INSTITUTION_KINDS: Names = {"hospital": ("医院", "hospital"), "primary": ("基层医疗机构", "primary care"),
                            "private": ("民营医疗机构", "private"), "village": ("村卫生室", "village clinic"),
                            "pharmacy": ("定点药店", "pharmacy")}

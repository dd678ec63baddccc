"""How a reader sees a policy parameter: its Chinese (and English) name, its unit, the names of its choices.

A 局长 reads 非中选产品采购量占比上限 50%, not ``nonselected_share_max = 0.5``. Every parameter of
:data:`jicai.policy.models.SPECS` has a name here, every unit a policy file uses has a reading, and every
choice of a text parameter a Chinese name; tests/test_policy_page.py fails when one is missing.
"""

from __future__ import annotations

# parameter → (中文名称, English name)
NAMES: dict[str, tuple[str, str]] = {
    "volume_basis": ("采购量统计口径", "Volume basis"),
    "nonselected_share_max": ("非中选产品采购量占比上限", "Maximum non-selected share"),
    "payment_due": ("货款结清期限", "Payment deadline"),
    "onboarding_from_month": ("未进院排查起始月", "Onboarding check from month"),
    "backup_substitution": ("供应问题期间备供产品视同中选", "Backup counts as selected during supply problems"),
    "supply_problem_exclusion": ("供应问题期间非中选用量不计入考核", "Non-selected use during supply problems not counted"),
    "special_treatment": ("特殊品种考核处理", "Treatment of special varieties"),
    "under_report_ratio": ("报量偏低判定线(较上年实际减少)", "Under-report threshold (drop from last year)"),
    "over_report_multiple": ("报量偏高判定倍数(相对上年实际)", "Over-report multiple of last year"),
    "report_floor_ratio": ("报量下限(占近年年均使用量)", "Report floor (share of average prior use)"),
    "report_floor_years": ("报量下限的年均使用量统计年数", "Years averaged for the report floor"),
    "forecast_shortfall_ratio": ("报量远低于预测判定线(较预测减少)", "Report-below-forecast threshold (drop from the forecast)"),
    "nonselected_price_multiple": ("非中选产品建议暂停采购/撤网的价格倍数", "Price multiple for suspending a non-selected product"),
    "price_tolerance": ("挂网价与中选价比对容差", "Listed-price tolerance"),
    "min_completion": ("约定采购量最低完成率", "Minimum completion of the agreed volume"),
    "score_weight_completion": ("考核得分权重:约定量完成情况", "Score weight: completion"),
    "score_weight_nonselected": ("考核得分权重:非中选产品采购量占比", "Score weight: non-selected share"),
    "score_weight_payment": ("考核得分权重:回款率", "Score weight: payment rate"),
    "score_weight_offline": ("考核得分权重:线下采购占比", "Score weight: offline share"),
    "score_weight_cost_growth": ("考核得分权重:费用增长率", "Score weight: cost growth"),
    "score_completion_full": ("完成率满分线", "Completion earning full points"),
    "score_completion_zero": ("完成率零分线", "Completion earning no points"),
    "score_nonselected_full": ("非中选占比满分线", "Non-selected share earning full points"),
    "score_nonselected_zero": ("非中选占比零分线", "Non-selected share earning no points"),
    "score_payment_full": ("回款率满分线", "Payment rate earning full points"),
    "score_payment_zero": ("回款率零分线", "Payment rate earning no points"),
    "score_offline_full": ("线下采购占比满分线", "Offline share earning full points"),
    "score_offline_zero": ("线下采购占比零分线", "Offline share earning no points"),
    "score_cost_growth_full": ("费用增长率满分线", "Cost growth earning full points"),
    "score_cost_growth_zero": ("费用增长率零分线", "Cost growth earning no points"),
    "fund_payment_ratio": ("医保基金支付比例", "Share paid by the fund"),
    "retention_tiers": ("结余留用比例分档", "Surplus retention tiers"),
    "overspend_share": ("合理超支分担比例", "Reasonable overspend share"),
    "prepay_ratio": ("医保基金预付比例", "Prepayment ratio"),
    "deliver_within_hours": ("配送时限", "Delivery window"),
    "response_hours_max": ("订单响应时间上限(中位数)", "Maximum median response time"),
    "delivery_rate_min": ("配送率下限", "Minimum delivery rate"),
    "complaint_institutions_min": ("供应问题反映集中的机构数", "Institutions making complaints concentrated"),
    "sentinel_min_lines": ("哨点预警最少订单行数", "Minimum order lines for a sentinel warning"),
    "surge_factor": ("需求激增倍数", "Surge multiple"),
    "surge_baseline_months": ("需求激增比较基准月数", "Surge baseline months"),
    "risk_recent_days": ("供应风险近期窗口天数", "Supply risk: recent window (days)"),
    "risk_baseline_days": ("供应风险前期窗口天数", "Supply risk: baseline window (days)"),
    "risk_min_lines": ("供应风险趋势最少订单行数", "Supply risk: minimum order lines for a trend"),
    "risk_delivery_drop": ("供应风险:配送率下降判定线", "Supply risk: delivery-rate drop"),
    "risk_response_rise_hours": ("供应风险:响应时间增加判定线", "Supply risk: response-time rise"),
    "risk_winners_max": ("供应风险:中选企业数不超过", "Supply risk: at most this many winners"),
    "risk_problem_lookback_days": ("供应风险:既往问题回溯天数", "Supply risk: look-back for past problems (days)"),
    "risk_weight_delivery": ("供应风险权重:配送率下降", "Supply risk weight: delivery drop"),
    "risk_weight_response": ("供应风险权重:响应变慢", "Supply risk weight: response rise"),
    "risk_weight_few_winners": ("供应风险权重:中选企业少", "Supply risk weight: few winners"),
    "risk_weight_injectable": ("供应风险权重:注射剂", "Supply risk weight: injectable"),
    "risk_weight_past_problems": ("供应风险权重:既往核实问题", "Supply risk weight: past verified problems"),
    "risk_alert_score": ("供应风险预警分", "Supply risk alert score"),
    "clue_window_months": ("线索比较窗口月数", "Clues: months of each comparison window"),
    "clue_min_lines": ("线索最少订单行数", "Clues: minimum order lines of the product"),
    "clue_peer_excess": ("带金线索:高出同级中位占比", "Kickback clue: share above the same-level median"),
    "clue_share_rise": ("带金线索:占比上升幅度", "Kickback clue: rise of the share since the batch began"),
    "clue_concentration_share": ("带金线索:占全省采购量比例", "Kickback clue: share of the province's volume"),
    "selective_small_level_max": ("选择性配送:小客户等级上限", "Selective delivery: highest level of a small customer"),
    "selective_min_lines": ("选择性配送:每组最少订单行数", "Selective delivery: minimum order lines per group"),
    "selective_rate_gap": ("选择性配送:配送率差距判定线", "Selective delivery: delivery-rate gap"),
    "selective_response_gap_hours": ("选择性配送:响应时间差距判定线", "Selective delivery: response-time gap"),
    "capitation_return_tiers": ("中值最优法返还比例分档", "Median-optimal return tiers"),
    "capitation_return_rate_beyond": ("超过最高分档的返还比例", "Return rate beyond the last tier"),
    "pharmacy_large_amount": ("定点药店大额购药标准", "Large pharmacy purchase"),
    "budget_ahead_margin": ("预算执行超序时进度预警线", "Budget ahead-of-time margin"),
    "change_window_months": ("变化监测参考期月数", "Change detection reference window"),
    "change_threshold_sd": ("变化监测报警阈值(标准差倍数)", "Change detection threshold (standard deviations)"),
    "change_allowance_sd": ("变化监测容许偏移(标准差倍数)", "Change detection allowance (standard deviations)"),
    "change_min_months": ("变化监测参考期最少有数据月数", "Change detection minimum months of data in the window"),
    "substitution_baseline_months": ("替代使用基期月数(截至执行首月)", "Substitution baseline months"),
    "substitution_followup_months": ("替代使用观察期月数", "Substitution follow-up months"),
    "substitution_did_min": ("替代使用预警线(较同级升幅)", "Substitution threshold (rise beyond peers)"),
    "substitution_min_ddd": ("替代使用判断最低用量", "Minimum use for a substitution judgement"),
}

# a policy file's unit → (单位 as printed, unit in English); "ratio" values print as % and need no unit word
UNITS: dict[str, tuple[str, str]] = {
    "ratio": ("%", "%"),
    "pp": ("个百分点", "percentage points"),
    "month": ("个月", "months"),
    "year": ("年", "years"),
    "hour": ("小时", "hours"),
    "day": ("天", "days"),
    "enterprises": ("家", "enterprises"),
    "yuan": ("元", "yuan"),
    "points": ("分", "points"),
    "×": ("倍", "times"),
    "multiple": ("倍", "times"),
    "institutions": ("家", "institutions"),
    "order lines": ("条订单行", "order lines"),
    "sd": ("倍标准差", "standard deviations"),
    "DDD": ("DDD", "DDDs"),
    "level": ("级", "level"),
    "bool": ("是/否", "yes/no"),
    "": ("选项", "choice"),
    "[score, ratio]": ("分档表", "tiers"),
    "[deviation, rate]": ("分档表", "tiers"),
}

# the values of text parameters → (中文, English)
CHOICES: dict[str, dict[str, tuple[str, str]]] = {
    "volume_basis": {"accepted": ("验收数量(按验收时间计)", "accepted quantity, on the acceptance date"),
                     "ordered": ("订单数量(按下单时间计)", "ordered quantity, on the order date")},
    "payment_due": {"end_of_next_month": ("次月月底", "end of the next month"),
                    "end_of_month": ("当月月底", "end of the month")},
    "special_treatment": {"exclude": ("特殊期内不计入非中选占比和考核", "left out inside their period"),
                          "none": ("不作特殊处理", "no special treatment")},
}

# a value read better as a phrase than as "number unit"
PHRASES: dict[str, str] = {"onboarding_from_month": "执行第 {} 个月起", "surge_baseline_months": "前 {} 个月平均",
                           "change_window_months": "前 {} 个月", "change_min_months": "至少 {} 个月有数据",
                           "selective_small_level_max": "{} 级及以下"}

# tiered parameters: the headings of their two columns (中文, English) and how each number is shown
TIER_COLUMNS: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "retention_tiers": (("考核得分不低于(分)", "score at least", "score"), ("留用比例", "retention ratio", "pct")),
    "capitation_return_tiers": (("偏差不超过", "deviation up to", "pct"), ("返还比例", "return rate", "pct")),
}

# the notices' score bands are "points" on a 0–100 scale; the growth bands may be negative: all shown as %
PERCENT_UNITS = ("ratio",)

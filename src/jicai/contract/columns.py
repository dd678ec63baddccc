"""The shared column vocabulary: every output column of every measure, with its Chinese and English label,
its kind and its unit — declared once, read by the measures, the reports, the pages, the API and the docs.

A measure names its columns from here (:func:`cols`); where a column means something narrower in one measure
(``status`` of a listing is 挂网状态, of a monitoring row 进度状态), the measure overrides the label or the
description for itself, and the kind and unit stay the vocabulary's. A column missing here is an error at
declaration time, so a new column gets one reviewed label instead of a fourteenth copy.

Kinds say how a value is shown and compared (a writer never guesses from the name):

=========  ==================================================================================
text       free text and names
code       a machine code (institution_code, product_code…), shown beside its name
enum       a code from a closed list, shown by its Chinese name (the measure gives the names)
flags      ``;``-separated enum codes
int        a count
volume     a quantity in minimum units (片/支/袋/个) or packs, thousands separators, no decimals
money      yuan, rounded to the fen when shown
price      yuan per minimum unit (a unit price such as 0.0512), four decimals, never rounded to the fen
rate       a ratio shown as a percentage (0.847 → 84.7%)
pp         a difference of two ratios, in percentage points
score      a figure with one decimal (points, hours, multiples)
date       a calendar day; ``datetime`` a local (Asia/Shanghai) time; ``month`` ``YYYY-MM`` text
bool       是/否
level      an institution level 3/2/1/0, shown 三级/二级/一级/未定级
status     the monitoring status, shown by its Chinese name
rank       a rank (1 = first)
key        a key for other systems (an alert's de-duplication key): in the API and the exports, never on a page
=========  ==================================================================================

>>> col("region_code").zh, col("region_code").kind
('所属区划', 'code')
>>> col("status", zh="挂网状态").zh
'挂网状态'
>>> [c.name for c in cols("product_code", "finding")]
['product_code', 'finding']
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from jicai.errors import BilingualError

KINDS = ("text", "code", "enum", "flags", "int", "volume", "money", "price", "rate", "pp", "score", "date", "datetime",
         "month", "bool", "level", "status", "rank", "key")

UNITS = {"money": "元", "price": "元", "rate": "%", "pp": "百分点"}
# a figure of kind score whose unit is not the kind's: a multiple of something (1.53 倍)
UNIT_OF = {"multiple": "倍", "ratio": "倍", "surge_ratio": "倍", "surge_factor": "倍"}


class VocabularyError(BilingualError, KeyError):
    """A measure names a column the vocabulary does not hold, or gives an unknown kind."""


@dataclass(frozen=True)
class Col:
    """One output column: ``name`` as in the rows, ``zh`` the header a reader sees, ``en`` what it means."""

    name: str
    zh: str
    en: str
    kind: str = "text"
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise VocabularyError(f"列 {self.name} 的类型 {self.kind!r} 未定义(可选 {'/'.join(KINDS)})",
                                  f"column {self.name}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")


# (name, Chinese label, English meaning, kind); the unit follows the kind unless a row says otherwise
_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ('above_win_amount', '高出中选价采购金额', 'Σ amount − winning_price × units of the recent window: what was paid above the winning price (kickback clues)', 'money'),
    ('accepted_amount', '验收金额', 'Σ accepted_quantity × pack_price', 'money'),
    ('accepted_packs', '验收数量(包装)', 'Σ accepted_quantity of those lines', 'volume'),
    ('accepted_units', '验收数量(最小单位)', 'accepted_quantity × units_per_pack', 'volume'),
    ('actual', '实际采购金额', 'Σ (selected + non-selected amount) × fund_payment_ratio (varieties with a price)', 'money'),
    ('actual_spending', '实际支出', 'actual spending of the period (yuan, rounded to fen)', 'money'),
    ('actual_term', '实际金额', 'purchase_amount × fund_payment_ratio; null when the price is missing (left out)', 'money'),
    ('agreed_amount', '年度约定采购金额', "Σ over varieties of agreed volume × the institution's selected price (mean of the primary products of its region)", 'money'),
    ('agreed_volume', '约定采购量', 'agreed volume of the cycle year (minimum units)', 'volume'),
    ('agreements', '约定品种数', 'agreements (institution × variety) of batches from month 3 of execution', 'int'),
    ('ahead', '超序时进度机构数', 'institutions flagged ahead', 'int'),
    ('ahead_amount', '超序时金额', 'spending − total_budget × time_progress (negative: below the pro-rata budget)', 'money'),
    ('alarm_month', '报警月', 'first month the cumulative sum was above the threshold (YYYY-MM)', 'month'),
    ('alarm_months', '报警月数', 'months in alarm in the event', 'int'),
    ('alert_key', '预警编号', 'kind:month:institution:(batch or distributor):variety — the same on every rerun of the month, what delivery de-duplicates on', 'key'),
    ('alert_kind', '预警类型', 'behind_schedule / payment_overdue / assessment_at_risk / nonselected_high', 'enum'),
    ('amount', '金额', 'settlement amount (yuan)', 'money'),
    ('amount_due', '应回款金额', 'accepted amount of lines due on or before the as-of date', 'money'),
    ('as_of', '考核截止日', 'last day assessed: cycle_end, or earlier for a provisional assessment', 'date'),
    ('at_risk_institutions', '可能受影响机构数', 'other institutions of the city that ordered the product in the last EXPOSURE_MONTHS months', 'int'),
    ('at_risk_monthly_units', '受影响月均用量', 'their ordered units per month over those months', 'volume'),
    ('atc4', 'ATC类别', 'ATC level-4 class: characters 2–6 of the national drug code (C10AA)', 'code'),
    ('atc4_name', 'ATC类别名称', 'name of the class (jicai/analytics/data/atc4_classes.csv; blank when not listed)', 'text'),
    ('atc_code', 'ATC编码', 'ATC level-5 substance whose DDD applies (C10AA05)', 'code'),
    ('backup_amount', '备供替代金额', 'amount of the backup volume counted as selected (yuan)', 'money'),
    ('backup_volume', '备供替代量', 'backup volume counted as selected (inside verified supply-problem periods)', 'volume'),
    ('balance', '预付余额', 'prepayment − cumulative offset', 'money'),
    ('balance_alt', '测算政策预付余额', "balance left at the ledger's last day under the alternative policy", 'money'),
    ('balance_change', '预付余额变化', 'balance_alt − balance_current (positive: more to recover)', 'money'),
    ('balance_current', '现行政策预付余额', "balance left at the ledger's last day under the current policy", 'money'),
    ('base_ddd', '基期DDD数', 'DDDs of the class at the institution in the baseline window', 'volume'),
    ('base_months', '基期', 'baseline window: the substitution_baseline_months months ending with the batch start month', 'text'),
    ('base_share', '基期非集采占比', 'non-VBP DDDs / all DDDs of the class in the baseline window', 'rate'),
    ('baseline_delivery_rate', '前期配送率', 'baseline window (risk_baseline_days before the recent one): the rate of each compared distributor, weighted by its recent due packs (a change of distributor mix is no trend)', 'rate'),
    ('baseline_lines', '前期订单行数', 'order lines of the baseline window from the compared distributors (those delivering in both windows)', 'int'),
    ('baseline_response_hours', '前期响应时间(小时)', 'baseline median response hours of each compared distributor, weighted by its recent lines', 'score'),
    ('baseline_shipped_units', '前期月均发货量', 'mean units shipped per month over the baseline months, province-wide', 'volume'),
    ('baseline_unit_price', '集采前加权平均价', 'baseline price before VBP (yuan per minimum unit); null when missing', 'price'),
    ('baseline_units', '前期月均采购量', 'mean ordered units of the surge_baseline_months months before', 'volume'),
    ('basis', '建议依据', 'which binds the recommended report: by_forecast (预测) or by_floor (报量下限, report_floor_ratio × average prior use)', 'enum'),
    ('batch_id', '批次编号', 'procurement batch', 'code'),
    ('batch_name', '批次名称', 'name of the batch (batches.name)', 'text'),
    ('batch_start', '执行日', 'first day of execution of the batch', 'date'),
    ('behind', '低于序时进度数', 'rows with status behind', 'int'),
    ('budget', '结余留用预算', 'Σ agreed_volume × baseline_unit_price × fund_payment_ratio (varieties with a price)', 'money'),
    ('budget_missing_varieties', '缺集采前价格品种', 'varieties without a baseline price, left out of budget and actual', 'int'),
    ('budget_term', '预算金额', 'agreed_volume × baseline_unit_price × fund_payment_ratio; null when the price is missing', 'money'),
    ('case', '接续情形', 'replace / continue / no_winner', 'enum'),
    ('cases_ytd', '本年查处案件数', 'rows of violations found from 1 January to the month end', 'int'),
    ('change_start', '变化起始月', 'first month of the run of positive cumulative sums that led to the alarm: when the change started (YYYY-MM)', 'month'),
    ('changed', '变化项', "';'-separated columns that differ: completion, nonselected_share, status, nonselected_excess", 'text'),
    ('check_from', '开始排查日', 'first day of month onboarding_from_month of execution: the onboarding check begins', 'date'),
    ('checked', '已到排查期', 'the as-of date is on or after check_from', 'bool'),
    ('city_code', '地市区划', 'city: the first 4 digits of region_code followed by 00', 'code'),
    ('city_name', '地市名称', 'name of the city (regions.name of city_code; the code when absent)', 'text'),
    ('clause', '政策依据', 'the source (notice and clause) of the policy parameter behind the alert', 'text'),
    ('closing', '期末库存', 'closing stock, minimum units', 'volume'),
    ('clue_factors', '线索信号', "';'-separated signals that fired (the measure lists them)", 'flags'),
    ('clue_reasons', '线索依据', 'each signal with its figures, threshold and policy parameter, then the note that a clue is no verdict and the suggested action', 'text'),
    ('complaint_institutions', '反映问题机构数(产品)', 'distinct institutions reporting a problem with the product in the month, all distributors', 'int'),
    ('complaints', '供应问题反映次数', 'supply-problem reports filed in the month attributed to the row (its distributor served the reporting institution)', 'int'),
    ('completion', '完成率', 'selected volume / agreed volume (null when agreed is 0)', 'rate'),
    ('completion_points', '完成率得分', 'points of the completion item', 'score'),
    ('completion_without', '完成率(不考虑问题期)', 'completion with backup_substitution and supply_problem_exclusion off', 'rate'),
    ('cost_growth', '费用增长率', 'purchase_amount / prior_amount − 1; null when prior_amount is 0', 'rate'),
    ('cost_growth_points', '费用增长率得分', 'points of the cost growth item', 'score'),
    ('cost_per_ddd', '每DDD费用(日均费用)', 'amount / ddd (null without DDDs)', 'price'),
    ('counts', '计入替代', "verified and about a primary selected product of the institution's region", 'bool'),
    ('covered_days', '有数据天数', 'days of the window on or after the first order line in the warehouse', 'int'),
    ('covers_region', '覆盖该地市', "the product's selected regions include the city", 'bool'),
    ('cumulative_offset', '累计冲抵金额', 'prepayment × progress (0 when progress is null)', 'money'),
    ('cumulative_selected_amount', '累计中选采购金额', 'selected purchase amount from the cycle start to the month end (primary of the region; backup inside verified supply-problem periods)', 'money'),
    ('cusum', '累积和', 'the cumulative sum of the alarmed side in the alarm month (series units)', 'score'),
    ('cusum_down', '下降累积和', 'max(0, previous + reference mean − allowance − value): evidence the series fell (null before a reference)', 'score'),
    ('cusum_up', '上升累积和', 'max(0, previous + value − reference mean − allowance): evidence the series rose (null before a reference)', 'score'),
    ('cycle_end', '年度结束日', 'last day of cycle year k', 'date'),
    ('cycle_start', '年度开始日', 'first day of cycle year k', 'date'),
    ('cycle_year', '采购年度', 'cycle year k', 'int'),
    ('ddd', 'DDD数', 'defined daily doses: volume × ddd_per_unit (null when the product has no DDDs)', 'volume'),
    ('ddd_note', 'DDD说明', 'why the product has no DDDs (blank when it has)', 'text'),
    ('ddd_per_unit', '每单位DDD数', 'strength per minimum unit / DDD (null when either is unknown)', 'score'),
    ('ddd_source', 'DDD来源', 'WHO ATC/DDD Index <year> (bundled) or the bureau\'s ddd table', 'text'),
    ('ddd_unit', 'DDD单位', 'unit of the DDD: mg, g, mcg, IU, U', 'text'),
    ('ddd_value', 'DDD值', 'the WHO defined daily dose of the substance by this route', 'score'),
    ('decile', '同级十分位', 'decile of cost per DDD among same-level peers, 1 = cheapest … 10 = dearest: min(10, ⌊10 × (rank − 1) / (peers − 1)⌋ + 1), ties at their lowest rank; null with fewer than 2 peers', 'int'),
    ('delivery_rate', '配送率', 'on_time_packs / ordered_packs of the lines due: a line ordered less than deliver_within_hours before the data\'s end and not shipped is left out (null when nothing is due)', 'rate'),
    ('delivery_rate_change', '配送率变化', 'recent_delivery_rate − baseline_delivery_rate', 'pp'),
    ('delivery_rate_gap', '配送率差距', 'large_delivery_rate − small_delivery_rate', 'pp'),
    ('deviation', '偏差', 'd = |S − R| / |R|; |S| / P when R = 0; null when that base is 0 too', 'rate'),
    ('deviation_basis', '偏差基数', 'reasonable_surplus (|R|) or package (P, when R = 0); null when there is no base', 'enum'),
    ('did', '双重差分(较同级)', "(own follow-up − baseline share) − (peers' follow-up − baseline share)", 'pp'),
    ('difference', '差异数量', 'opening + purchased − settled − closing (negative: more stock than the books explain)', 'volume'),
    ('direction', '变化方向', 'deteriorating (恶化) or improving (改善): the way the series moved, read by whether low is good', 'enum'),
    ('distributor_code', '配送企业代码', 'distributor of the lines (null: reports from institutions that never ordered the product)', 'code'),
    ('distributor_name', '配送企业名称', 'distributor name', 'text'),
    ('dosage_form', '剂型', 'injectable (名称、规格或品种名含“注射”) or other', 'enum'),
    ('early_share', '执行初期占比', "the product's units / the institution's units of the variety in the first clue_window_months months of the batch", 'rate'),
    ('enrolled', '签约人数', 'enrolled residents (人头基数)', 'int'),
    ('enterprise_code', '中选企业代码', 'winning enterprise of the product', 'code'),
    ('enterprise_name', '中选企业名称', 'enterprise name', 'text'),
    ('excess_ddd', '超额替代DDD数', "did × follow_ddd of a flagged row: the rise beyond the peers', in DDDs", 'volume'),
    ('excess_without', '非中选超量(不考虑问题期)', 'non-selected excess flag without the periods', 'bool'),
    ('excluded_amount', '期间非中选采购金额', 'amount of that non-selected volume (yuan)', 'money'),
    ('excluded_volume', '期间非中选采购量', 'non-selected volume inside the period: left out of the share when the report counts', 'volume'),
    ('execution_months', '已执行月数', 'calendar months of execution through the as-of date, the start month being 1', 'int'),
    ('exempt_varieties', '豁免品种', 'special varieties exempt from the completion item (names, `;`-separated)', 'text'),
    ('failed', '不合格数', 'institutions that failed', 'int'),
    ('failed_items', '不合格项目', '`;`-separated fail item codes: completion, nonselected_share (empty when passed)', 'flags'),
    ('failed_items_zh', '不合格原因', 'the failing varieties with their figures, e.g. 完成率:品种一 85.0% < 100%', 'text'),
    ('failed_items_zh_alt', '测算政策不合格原因', 'failed_items_zh under the alternative policy (empty when passed)', 'text'),
    ('failed_items_zh_current', '现行政策不合格原因', 'failed_items_zh under the current policy (empty when passed)', 'text'),
    ('final', '年度已结束', 'true when settled_on is the cycle end (false: a projection before the year ends)', 'bool'),
    ('finding', '问题代码', 'not_listed_at_winning_price, above_winning_price or suspend_or_delist', 'enum'),
    ('finding_zh', '问题说明', '未按中选价挂网, 高于中选价 or 建议暂停采购/撤网', 'text'),
    ('flagged_amount', '涉及结算金额', 'Σ amount of those settlements (each counted once)', 'money'),
    ('flagged_settlements', '涉及结算笔数', 'distinct settlements with at least one violation', 'int'),
    ('flags', '预警标记', "';'-separated: slow_response, low_delivery_rate, multi_institution_complaints, sentinel_warning, surge", 'flags'),
    ('flags_zh', '异常说明', 'the flags in Chinese: 报量偏低;用而不报;续签低于上年约定;报量偏高', 'text'),
    ('flip', '考核结果变化', 'to_fail (合格 → 不合格), to_pass (不合格 → 合格) or same', 'enum'),
    ('floor_volume', '报量下限', 'smallest whole volume ≥ report_floor_ratio × prior_annual_use (the 11th national batch: ≥ 80 % of average prior use)', 'volume'),
    ('follow_ddd', '观察期DDD数', 'DDDs of the class at the institution in the follow-up window', 'volume'),
    ('follow_months', '观察期', 'follow-up window: the substitution_followup_months months ending with the as-of month', 'text'),
    ('follow_share', '观察期非集采占比', 'non-VBP DDDs / all DDDs of the class in the follow-up window', 'rate'),
    ('forecast_volume', '预测用量', 'forecast use in the 12 months of cycle year k from the monthly history, rounded half up to whole units', 'volume'),
    ('fund_payment_ratio', '医保基金支付比例', 'policy fund_payment_ratio applied to both terms', 'rate'),
    ('gap', '超序时进度(百分点)', 'spending_progress − time_progress (shown in percentage points)', 'pp'),
    ('institution_code', '医疗机构编码', 'institution code', 'code'),
    ('institution_name', '医疗机构名称', 'institution name', 'text'),
    ('institutions', '机构数', 'distinct institutions', 'int'),
    ('kind', '违规类型', 'video_offline (an offline interval contains the time) or video_missing (no online interval does)', 'enum'),
    ('history_months', '历史月数', 'months of history fitted: from the first month with use to the last complete month before the cycle or the as-of date (at most 60)', 'int'),
    ('label', '名称', "the Chinese name of the row's code", 'text'),
    ('large_amount', '大额购药金额', 'their amount', 'money'),
    ('large_delivery_rate', '大客户配送率', 'delivery rate of the lines to large customers (level above selective_small_level_max)', 'rate'),
    ('large_lines', '大客户订单行数', 'order lines to large customers', 'int'),
    ('large_response_hours', '大客户响应时间中位数(小时)', 'exact median response hours of the lines to large customers', 'score'),
    ('large_settlements', '大额购药笔数', 'settlements above pharmacy_large_amount', 'int'),
    ('last_alarm_month', '最近报警月', 'last month of the event in alarm (YYYY-MM)', 'month'),
    ('last_history_month', '历史截至月份', 'the last month of the history (YYYY-MM)', 'month'),
    ('last_month', '最近支出月份', 'latest month counted (YYYY-MM)', 'month'),
    ('last_ordered', '最近下单日', 'date of its latest order of the product up to the month end', 'date'),
    ('last_year_actual', '上年实际采购量', 'accepted volume of all products of the variety in the 12 months before the report (or before the start of k without one)', 'volume'),
    ('late_agreements', '签约逾期数', 'agreements with days late > 0: signed after their deadline, or still unsigned after it as of the as-of date', 'int'),
    ('latest_month', '最近采购月', 'last month with a purchase counted in the share (YYYY-MM); null when none', 'month'),
    ('latest_selected_share', '最近月中选占比', 'selected share of latest_month', 'rate'),
    ('level', '医院等级', 'institution level (3/2/1/0 = 三级/二级/一级/未定级)', 'level'),
    ('listed_unit_price', '挂网价(元/最小单位)', 'price of the in-force listing; null when none', 'price'),
    ('main_enterprise_code', '原供应厂家代码', 'manufacturer of that product', 'code'),
    ('main_enterprise_name', '原供应厂家名称', 'manufacturer name', 'text'),
    ('main_monthly_units', '原主要产品月均使用量', 'ordered units of the main product / window months', 'volume'),
    ('main_product_code', '原主要产品', 'product of the variety the institution ordered most in the window', 'code'),
    ('manufacturer_code', '生产企业代码', 'manufacturer of the product (products.manufacturer_code); null when unknown', 'code'),
    ('manufacturer_name', '生产企业名称', 'manufacturer name', 'text'),
    ('max_days_late', '最长签约逾期天数', 'largest days late of the agreements: signed_date − deadline, or as-of date − deadline when unsigned; 0 when none is late', 'int'),
    ('max_overdue_days', '最长逾期天数', 'as-of date − oldest_overdue_due, in days (1 the day after the due day); null when nothing is overdue', 'int'),
    ('method', '预测方法', 'seasonal (Holt–Winters, ≥ 24 months), last_year (the last 12 months again, 12–23), run_rate (the mean month, 1–11) or no_history', 'enum'),
    ('mean_score', '平均得分', 'mean score of the institutions assessed', 'score'),
    ('message', '预警内容', 'what to do and what is at stake, with the figures (one Chinese sentence)', 'text'),
    ('month', '月份', 'month checked (YYYY-MM)', 'month'),
    ('month_end', '截至日期', 'last day of the month; the cycle end in the last month, the as-of date in the as-of month', 'date'),
    ('month_shipped_units', '当月发货量', 'units shipped of the product (lines ordered in the month), province-wide', 'volume'),
    ('monthly_units', '月均采购量', 'ordered_units / EXPOSURE_MONTHS', 'volume'),
    ('monthly_volume', '约定月均用量', '⌈agreed volume ÷ 12⌉, minimum units', 'volume'),
    ('months_counted', '已计月数', 'months of Y up to D with a fund_spending row', 'int'),
    ('months_since_start', '已执行月数', 'whole months from the batch start to the as-of date (2 on the first day of month 3)', 'int'),
    ('months_to_pass', '达标所用月数', 'month of execution (start month = 1) in which the selected share first reached the required level; null when never', 'int'),
    ('multiple', '挂网价/最高中选价(倍)', 'listed / the highest primary winning price of the variety; null when either is missing or 0', 'score'),
    ('needed_volume', '本月底前需采购量', '⌈agreed × time progress at the month end − selected volume⌉, minimum units', 'volume'),
    ('no_budget', '无预算机构数', 'institutions with spending and no budget', 'int'),
    ('nonselected_amount', '非中选产品采购金额', 'amount of the non-selected volume (yuan)', 'money'),
    ('nonselected_counted_volume', '计入占比的非中选量', 'non-selected volume outside supply-problem and special periods (share numerator)', 'volume'),
    ('nonselected_ddd', '同品种非中选DDD数', 'DDDs of non-selected products of VBP varieties of the class', 'volume'),
    ('nonselected_excess', '非中选超量', 'non-selected share above nonselected_share_max', 'bool'),
    ('nonselected_excess_rows', '非中选超量数', 'rows flagged non-selected excess', 'int'),
    ('nonselected_points', '非中选占比得分', 'points of the non-selected share item', 'score'),
    ('nonselected_share', '非中选占比', 'counted non-selected / (selected + counted non-selected); null when 0', 'rate'),
    ('nonselected_volume', '非中选产品采购量', 'all other volume of the variety (incl. backup outside periods)', 'volume'),
    ('nonvbp_amount', '非集采同类金额', 'accepted amount of the non-VBP products of the class', 'money'),
    ('nonvbp_cost_per_ddd', '非集采每DDD费用', 'non-VBP amount / non-VBP DDDs in the follow-up window', 'price'),
    ('nonvbp_ddd', '非集采同类DDD数', 'DDDs of products of the class in no VBP variety', 'volume'),
    ('nonvbp_share', '非集采同类占比', 'nonvbp_ddd / (selected + nonselected + nonvbp DDDs)', 'rate'),
    ('normal', '正常数', 'rows with status normal', 'int'),
    ('not_onboarded', '未进院', 'from month 3 of execution: agreement without any selected purchase', 'bool'),
    ('not_onboarded_rate', '未进院率', 'not onboarded / agreements', 'rate'),
    ('not_onboarded_rows', '未进院数', 'rows flagged not onboarded', 'int'),
    ('notices_ytd', '本年通报次数', 'those cases with action = notice', 'int'),
    ('offline_amount', '线下采购金额', 'amount of offline orders of the variety in the cycle year', 'money'),
    ('offline_points', '线下采购占比得分', 'points of the offline item', 'score'),
    ('offline_share', '线下采购占比', 'offline amount / order amount (null when no orders)', 'rate'),
    ('offset_alt', '测算政策累计冲抵金额', "cumulative offset at the ledger's last day under the alternative policy", 'money'),
    ('offset_change', '累计冲抵金额变化', 'offset_alt − offset_current', 'money'),
    ('offset_current', '现行政策累计冲抵金额', "cumulative offset at the ledger's last day under the current policy", 'money'),
    ('offset_this_month', '本月冲抵金额', 'increase of the cumulative offset over the previous month', 'money'),
    ('oldest_overdue_due', '最早逾期到期日', 'earliest due date of the lines overdue at the as-of date; null when none', 'date'),
    ('on_time_packs', '时限内发货数量(包装)', 'Σ shipped_quantity of lines shipped within deliver_within_hours of ordering (inclusive)', 'volume'),
    ('onboarded', '已进院', 'a selected product has been purchased since the batch start', 'bool'),
    ('ongoing', '仍在持续', 'the event is in alarm in the last month with a value', 'bool'),
    ('open', '仍在持续', 'no end_date, or one after the as-of date', 'bool'),
    ('opening', '期初库存', 'opening stock, minimum units (0 without a stock row)', 'volume'),
    ('order_amount', '订单金额', 'amount of all orders of the variety in the cycle year (order date)', 'money'),
    ('order_lines', '订单行数', 'order lines ordered in the month', 'int'),
    ('ordered_amount', '采购金额', 'Σ quantity × pack_price (yuan)', 'money'),
    ('ordered_packs', '采购数量(包装)', 'Σ quantity ordered, packs', 'volume'),
    ('ordered_units', '采购数量(最小单位)', 'Σ quantity × units_per_pack', 'volume'),
    ('outstanding_amount', '未回款金额', 'Σ per line of line amount − payments through the as-of date (0 when negative or under half a fen)', 'money'),
    ('over', '超额完成数', 'rows with status over (completion above the agreed volume)', 'int'),
    ('over_budget', '已超年度预算', 'spending > total_budget', 'bool'),
    ('overall_per_capita', '总体人均支出', 'ā = Σ actual_spending / Σ enrolled over every institution of the period', 'money'),
    ('overdue_amount', '逾期未回款金额', 'outstanding amount of lines past due as of the as-of date (a remainder under half a fen counts as paid)', 'money'),
    ('overdue_lines', '逾期明细数', 'order lines past due and not fully paid', 'int'),
    ('overspend', '超支金额', 'max(0, actual − budget)', 'money'),
    ('overspend_shared', '合理超支分担', 'overspend_share × overspend for institutions that passed, else 0', 'money'),
    ('overspend_shared_alt', '测算政策合理超支分担', 'overspend_shared under the alternative policy', 'money'),
    ('overspend_shared_change', '合理超支分担变化', 'overspend_shared_alt − overspend_shared_current', 'money'),
    ('overspend_shared_current', '现行政策合理超支分担', 'overspend_shared under the current policy', 'money'),
    ('package', '包干总额', 'P = enrolled × per_capita_standard, rounded to fen', 'money'),
    ('paid_amount', '已回款金额', "accepted_amount − outstanding_amount: paid through the as-of date, a line's overpayment not counted", 'money'),
    ('paid_by_due', '按期回款金额', "paid on or before each line's due date (capped at the line amount)", 'money'),
    ('parameters_changed', '变化原因(政策参数)', 'the changed policy parameters that bear on what differs in the row, each with its two values', 'text'),
    ('pass_rate', '合格率', 'institutions passed / institutions assessed', 'rate'),
    ('passed', '考核合格', 'no fail item', 'bool'),
    ('passed_alt', '测算政策考核合格', 'no fail item under the alternative policy', 'bool'),
    ('passed_current', '现行政策考核合格', 'no fail item under the current policy', 'bool'),
    ('passed_month', '首次达标月', 'first month the selected share reached the required level (YYYY-MM); null when never', 'month'),
    ('passed_share', '达标当月中选占比', 'selected share of passed_month', 'rate'),
    ('past_problems', '既往核实供应问题数', 'verified supply-problem reports about the product filed in the risk_problem_lookback_days days up to the as-of date', 'int'),
    ('payment_points', '回款率得分', 'points of the payment item', 'score'),
    ('payment_rate', '回款率', 'paid_by_due / amount_due (null when nothing is due)', 'rate'),
    ('peer_base_share', '同级基期非集采占比', 'peers (same level, the institution left out): Σ non-VBP / Σ DDDs, baseline', 'rate'),
    ('peer_follow_share', '同级观察期非集采占比', 'the same for the follow-up window', 'rate'),
    ('peer_median_share', '同级中位非中选占比', 'median non-selected share of the batch × variety among institutions of the same level', 'rate'),
    ('peer_median_share', '同级机构中位占比', 'median recent_share of the same-level institutions buying the variety (0 for those not buying the product)', 'rate'),
    ('peer_p10_cost_per_ddd', '同级P10每DDD费用', "peers' 10th-percentile cost per DDD (nearest rank): the cost of the ⌈peers / 10⌉-th cheapest of the level, the institution included", 'price'),
    ('peers', '同级机构数', 'institutions of the same level with DDDs of the variety in the period, the institution included', 'int'),
    ('per_capita_standard', '人均付费标准', 'payment standard per enrolled resident (yuan)', 'money'),
    ('period', '结算期', 'settlement period of the capitation rows', 'text'),
    ('period_end', '问题期结束', 'end_date; the as-of date when blank (still open)', 'date'),
    ('period_start', '问题期开始', 'start_date, or the day of reported_at when blank', 'date'),
    ('pharmacies', '药店数', 'distinct pharmacies', 'int'),
    ('pharmacy_code', '药店编码', 'pharmacy code', 'code'),
    ('pharmacy_name', '药店名称', 'pharmacy name', 'text'),
    ('policy_parameter', '政策参数', 'the policy parameter behind the alert (docs/rules.md)', 'code'),
    ('prepaid_at', '预付日期', 'date of the prepayment: earliest signed_date of the agreements (cycle start when blank), or the earliest imported paid_at', 'date'),
    ('prepayment', '预付金额', 'prepayment made by the month end (0 before prepaid_at; imported: Σ amounts paid by then)', 'money'),
    ('prepayment_alt', '测算政策预付金额', "prepayment made by the ledger's last day under the alternative policy", 'money'),
    ('prepayment_current', '现行政策预付金额', "prepayment made by the ledger's last day under the current policy", 'money'),
    ('price_missing', '缺集采前价格', 'the variety has no baseline price: left out of budget and actual', 'bool'),
    ('prior_annual_use', '近年年均使用量', '12 × mean monthly use over the last report_floor_years × 12 months of the history (fewer when the history is shorter)', 'volume'),
    ('prior_agreed', '上年约定采购量', 'agreed volume of cycle year k − 1; null when none', 'volume'),
    ('prior_amount', '上年同期采购金额', 'the same a year earlier (before the batch start for k = 1)', 'money'),
    ('problem', '问题类型', 'shortage / late / selective / other', 'enum'),
    ('product_code', '医保编码', 'product', 'code'),
    ('product_name', '产品名称', 'product name', 'text'),
    ('products', '产品数', 'distinct selected products ordered', 'int'),
    ('progress', '采购进度', 'min(1, cumulative selected amount / agreed amount); null when the agreed amount is 0', 'rate'),
    ('projected_spending', '按进度预计全年支出', 'spending / time_progress', 'money'),
    ('province_share', '占全省采购量比例', "the institution's recent units of the product / all institutions' recent units of it", 'rate'),
    ('proxy', '代购', 'proxy purchase (代购)', 'bool'),
    ('proxy_amount', '代购未登记金额', 'their amount', 'money'),
    ('proxy_registered', '代购已登记', 'the proxy purchase is registered (blank: no registration on record)', 'bool'),
    ('proxy_unregistered', '代购未登记笔数', 'unregistered proxy purchases', 'int'),
    ('purchase_amount', '本年度采购金额', "accepted amount of all products of the batch's varieties in the assessed period", 'money'),
    ('purchased', '本期购进', 'purchased in the month, minimum units', 'volume'),
    ('quantity', '数量(最小单位)', 'quantity settled, minimum units', 'volume'),
    ('rank', '排名', 'position in a ranked list, 1 = first (ties share a rank)', 'rank'),
    ('rank_in_level', '同级排名', 'rank of the score among institutions of the same level in the batch and year (ties share)', 'rank'),
    ('ratio', '报量/上年实际(倍)', 'reported / last-year actual (null when either is missing or the actual is 0)', 'score'),
    ('reason', '说明', 'counts / unverified / not_selected / not_started', 'enum'),
    ('reasonable_spending', '合理支出', 'enrolled × ā, rounded to fen', 'money'),
    ('reasonable_surplus', '合理余量', 'R = P − enrolled × ā (negative: the standard is below ā)', 'money'),
    ('recent_delivery_rate', '近期配送率', 'delivery rate of the recent window (risk_recent_days up to the as-of date, lines whose deliver_within_hours ended by then) of the compared distributors', 'rate'),
    ('recent_lines', '近期订单行数', 'order lines of the recent window from the compared distributors (those delivering in both windows), their deliver_within_hours ended by the as-of date', 'int'),
    ('recent_response_hours', '近期响应时间(小时)', 'recent median response hours of each compared distributor, weighted by its recent lines (a line unanswered by the as-of date counts with its waiting time so far)', 'score'),
    ('recent_share', '近期占比', "the product's units / the institution's units of the variety in the recent window (clue_window_months up to the as-of date)", 'rate'),
    ('recent_units', '近期采购数量(最小单位)', 'units of the product ordered in the recent window', 'volume'),
    ('recipient', '责任方', 'who must act: institution, enterprise or bureau', 'enum'),
    ('recommended_volume', '建议报量', 'max(forecast_volume, floor_volume)', 'volume'),
    ('recover_amount', '应收回金额', 'balance left on settled_on (> 0): prepayment − cumulative offset', 'money'),
    ('recovered_ytd', '本年追回金额', 'Σ recovered_amount of those cases', 'money'),
    ('reference_mean', '参考均值', 'mean of the reference months in force (series units)', 'score'),
    ('reference_sd', '参考标准差', 'population standard deviation of the reference months, at least the series floor (series units)', 'score'),
    ('region_code', '所属区划', 'region code of the institution', 'code'),
    ('region_shipped_units', '当月本地市发货量', 'units shipped of the product to the city (lines ordered in the month)', 'volume'),
    ('remaining_budget', '剩余预算', 'total_budget − spending', 'money'),
    ('report_gap', '建议补报量', 'recommended_volume − reported_volume when the report is below the recommendation, else 0; null without a report', 'volume'),
    ('report_id', '报告编号', 'supply-problem report', 'code'),
    ('reported_at', '反馈时间', 'when it was reported', 'datetime'),
    ('reported_volume', '报送采购量', 'reported volume for (batch, k); null when no report', 'volume'),
    ('reports', '哨点反映次数', "the sentinel's supply-problem reports about the product in the month", 'int'),
    ('required_selected_share', '中选占比达标线', '1 − nonselected_share_max: the selected share at which non-selected use no longer exceeds the maximum', 'rate'),
    ('responded_lines', '已响应行数', 'lines with a response time', 'int'),
    ('response_hours_change', '响应时间变化(小时)', 'recent_response_hours − baseline_response_hours', 'score'),
    ('response_hours_gap', '响应时间差距(小时)', 'small_response_hours − large_response_hours', 'score'),
    ('response_hours_median', '响应时间中位数(小时)', 'median of responded_at − ordered_at, hours (mean of the two middle values for an even count)', 'score'),
    ('response_hours_p90', '响应时间P90(小时)', '90th percentile of the response time, linear interpolation between order statistics', 'score'),
    ('retention_base', '结余金额', 'max(0, budget − actual)', 'money'),
    ('retention_ratio', '结余留用比例', 'ratio of the first retention tier reached by the score; 0 when failed', 'rate'),
    ('retention_ratio_alt', '测算政策留用比例', 'retention_ratio under the alternative policy', 'rate'),
    ('retention_ratio_current', '现行政策留用比例', 'retention_ratio under the current policy', 'rate'),
    ('return_rate', '返还比例', 'rate of the tier, capitation_return_rate_beyond beyond the last; null without a deviation', 'rate'),
    ('return_share', '返还占结余', 'Σ returned / Σ max(S, 0); null when no institution has a surplus', 'rate'),
    ('returned_amount', '返还金额', 'max(S, 0) × return_rate, rounded to fen (0 without a deviation)', 'money'),
    ('saving', '可节省金额', "ddd × (cost_per_ddd − peer_p10_cost_per_ddd) when positive, else 0: the ¥ saved at the peers' 10th-percentile cost", 'money'),
    ('reward', '结余留用奖励', 'retention_base × retention_ratio', 'money'),
    ('reward_alt', '测算政策结余留用奖励', 'reward under the alternative policy', 'money'),
    ('reward_change', '结余留用奖励变化', 'reward_alt − reward_current', 'money'),
    ('reward_current', '现行政策结余留用奖励', 'reward under the current policy', 'money'),
    ('rewarded', '获奖励机构数', 'institutions with a retention reward > 0', 'int'),
    ('risk_alert', '风险预警', 'risk_score ≥ risk_alert_score', 'bool'),
    ('risk_factors', '风险因素', "';'-separated: delivery_drop, response_rise, few_winners, injectable, past_problems", 'flags'),
    ('risk_reasons', '评分依据', 'each factor that added points: its figures, threshold, points and policy parameter (one Chinese sentence each)', 'text'),
    ('risk_score', '供应风险分', 'sum of the weights of the factors that fired, at most 100', 'score'),
    ('role', '供应角色', 'primary (主供) or backup (备供)', 'enum'),
    ('route', '给药途径', 'WHO route of the DDD: O oral, P parenteral, Inhal inhaled', 'text'),
    ('rows', '约定品种数', 'monitoring rows (institution × variety agreements)', 'int'),
    ('rule', '预警说明', 'the rule that fired, with its figures (one Chinese sentence)', 'text'),
    ('score', '考核得分', "sum of the five items' points (0–100), rounded to 6 decimals", 'score'),
    ('score_alt', '测算政策考核得分', 'score under the alternative policy', 'score'),
    ('score_current', '现行政策考核得分', 'score under the current policy', 'score'),
    ('score_defaulted', '按满分计项目', '`;`-separated items scored at full weight because their figure is undefined', 'flags'),
    ('score_items', '得分明细', "each item's figure and points; an undefined figure says so and earns full weight", 'text'),
    ('selected_amount', '中选产品采购金额', 'amount of the selected volume (yuan)', 'money'),
    ('selected_cost_per_ddd', '中选每DDD费用', 'selected amount / selected DDDs in the follow-up window', 'price'),
    ('selected_ddd', '中选产品DDD数', 'DDDs of the selected products (primary or backup of the region) of the class', 'volume'),
    ('selected_volume', '中选产品采购量', 'selected volume incl. backup inside verified supply-problem periods', 'volume'),
    ('sentinel_code', '哨点机构编码', 'the sentinel institution that saw it', 'code'),
    ('sentinel_name', '哨点机构名称', 'sentinel name', 'text'),
    ('sentinel_reports', '哨点反映次数', "of the row's complaints, those filed by sentinel institutions", 'int'),
    ('series', '监测指标', 'the monthly series watched: completion_percentile, nonselected_share or cost_per_ddd', 'enum'),
    ('series_value', '当月值', 'value of the series in the month: a percentile 0–100, a share in percent, or yuan per DDD', 'score'),
    ('settled_amount', '本月结算金额', 'Σ amount of those settlements', 'money'),
    ('settled_at', '结算时间', 'time of the settlement', 'datetime'),
    ('settled_on', '清算日期', 'month end of the last ledger month: the cycle end, or the as-of date before it', 'date'),
    ('settled_quantity', '本期结算数量', "Σ quantity of the month's settlements of the product, minimum units", 'volume'),
    ('settlement_id', '结算编号', 'settlement id', 'code'),
    ('settlements', '本月结算笔数', 'settlements of the pharmacy in the month', 'int'),
    ('severity', '严重程度', 'high (高) or medium (中)', 'enum'),
    ('share_rise', '占比上升', 'recent_share − early_share', 'pp'),
    ('share_vs_peers', '高出同级中位', 'recent_share − peer_median_share', 'pp'),
    ('share_without', '非中选占比(不考虑问题期)', 'non-selected share without the periods', 'rate'),
    ('ship_hours_median', '发货时间中位数(小时)', 'median of shipped_at − ordered_at, hours', 'score'),
    ('shipped_amount', '发货金额', 'Σ shipped_quantity × pack_price', 'money'),
    ('shipped_packs', '发货数量(包装)', 'Σ shipped_quantity of those lines (whenever shipped)', 'volume'),
    ('shortfall_volume', '距序时进度差量', 'volume still needed to reach time progress: max(0, agreed × progress − selected)', 'volume'),
    ('signed_late', '逾期签约数', 'agreements signed after their deadline, on or before the as-of date', 'int'),
    ('signed_on_time', '按时签约数', 'agreements signed on or before their deadline (and the as-of date)', 'int'),
    ('small_delivery_rate', '小客户配送率', 'delivery rate of the lines to small customers (level ≤ selective_small_level_max)', 'rate'),
    ('small_institutions', '小客户机构数', 'distinct small customers ordering the product from the distributor in the month', 'int'),
    ('small_lines', '小客户订单行数', 'order lines to small customers', 'int'),
    ('small_response_hours', '小客户响应时间中位数(小时)', 'exact median response hours of the lines to small customers', 'score'),
    ('source', '预付来源', 'computed (prepay_ratio × agreed amount) or imported (table prepayments)', 'enum'),
    ('spending', '累计医保支出', 'Σ fund_spending.amount from Y-01 to the month of D (that month in full)', 'money'),
    ('spending_progress', '预算执行进度', 'spending / total_budget; null without a budget', 'rate'),
    ('stake_amount', '涉及金额', 'yuan at stake: the overdue amount, the reward that would be lost, or the saving at the selected price', 'money'),
    ('start_date', '执行日', 'start date of the batch', 'date'),
    ('status', '挂网状态', 'status of the in-force listing: listed, suspended, delisted; null when none', 'status'),
    ('status_without', '进度状态(不考虑问题期)', 'status without the periods', 'status'),
    ('stock_amount', '进销存差异估算金额', 'Σ estimated amount of the mismatches', 'money'),
    ('stock_mismatches', '进销存不一致品种数', 'products with a stock mismatch', 'int'),
    ('stock_recorded', '有进销存记录', 'false when the product was settled but has no pharmacy_stock row for the month', 'bool'),
    ('strength', '每单位含量', 'active substance per minimum unit (products.strength, else read from spec)', 'text'),
    ('substituted_amount', '期间备供替代金额', 'amount of that backup volume (yuan)', 'money'),
    ('substituted_volume', '期间备供替代量', 'backup volume inside the period: counted as selected when the report counts', 'volume'),
    ('suggested_action', '建议措施', "the workflow's supervision action a clue points to: remind 提醒教育 (one signal), interview 约谈 (two)", 'enum'),
    ('surge_factor', '激增阈值(倍)', 'policy surge_factor: a surge is a ratio above it', 'score'),
    ('surge_ratio', '激增倍数', 'ordered_units / baseline_units', 'score'),
    ('surplus', '实际余量', 'S = P − actual_spending (negative: overspent)', 'money'),
    ('suspensions_ytd', '本年暂停结算次数', 'those cases with action = suspend (暂停医保联网结算)', 'int'),
    ('threshold', '报警阈值', 'change_threshold_sd × reference standard deviation (series units)', 'score'),
    ('tier', '返还档次', '1 = first tier of capitation_return_tiers reached (edges inclusive) …; n + 1 = beyond the last; null without a deviation', 'int'),
    ('time_progress', '序时进度', 'min(1, days from cycle start to as-of inclusive / days in the cycle year)', 'rate'),
    ('to_fail', '转为不合格数', 'institutions that pass under the current policy and fail under the alternative', 'int'),
    ('to_pass', '转为合格数', 'institutions that fail under the current policy and pass under the alternative', 'int'),
    ('total_budget', '年度总额预算', 'total_budget of Y (null: none)', 'money'),
    ('triggers', '触发规则', "';'-separated: report, slow_response, low_delivery_rate", 'flags'),
    ('unit_price', '结算均价', 'mean settled unit price of the product in the month over every pharmacy (Σ amount / Σ quantity)', 'price'),
    ('unpriced_varieties', '无中选价品种数', "agreed varieties without a primary selected product for the institution's region (they add nothing to the agreed amount)", 'int'),
    ('unsigned', '未签约数', 'agreements without a signed_date on or before the as-of date (late only once their deadline has passed)', 'int'),
    ('use_class', '集采属性', 'selected / nonselected / nonvbp (see jicai.analytics.class_use)', 'enum'),
    ('varieties', '约定品种数', 'varieties with an agreement of the institution in (batch, k)', 'int'),
    ('varieties_with_saving', '有节省空间品种数', 'varieties whose saving is above 0', 'int'),
    ('variety_id', '品种编号', 'variety', 'code'),
    ('variety_name', '品种名称', 'variety name', 'text'),
    ('verified', '是否核实', 'verified by the bureau', 'bool'),
    ('video_amount', '视频联动违规金额', 'their amount', 'money'),
    ('video_end', '离线结束', 'end of that offline interval (latest, when several); null for video_missing', 'datetime'),
    ('video_start', '离线开始', 'start of the offline interval containing the settlement (earliest, when several)', 'datetime'),
    ('video_violations', '视频联动违规笔数', 'video_offline + video_missing settlements', 'int'),
    ('violations', '本月违规数', 'violations found in the month (all kinds; a settlement may count under several)', 'int'),
    ('window', '统计期', 'the window_months before the start date whose orders are the use (first~last day)', 'text'),
    ('winner_enterprise_codes', '中选企业代码', 'their enterprises in the same order', 'text'),
    ('winner_new', '中选前未供应', 'no winning product was ordered in the province in the window', 'bool'),
    ('winner_product_codes', '中选产品', "primary selected products of the variety for the region (';'-separated by code; '…' after 3)", 'text'),
    ('winners', '本地市中选企业数', 'primary winning enterprises of the variety whose regions cover the city', 'int'),
    ('winning_price', '中选价(元/最小单位)', 'selected: its own winning price; non-selected: the highest primary winning price of the variety', 'price'),
    ('year', '年度', 'budget year Y (the year of the as-of date)', 'int'),
    ('yuan_effect', '替代金额影响', 'excess_ddd × (nonvbp_cost_per_ddd − selected_cost_per_ddd): the excess cost at the selected price', 'money'),
    ('zero', '零采购数', 'rows with status zero', 'int'),
)

VOCABULARY: dict[str, Col] = {n: Col(n, zh, en, kind, UNIT_OF.get(n, UNITS.get(kind, ""))) for n, zh, en, kind in _ROWS}


def col(name: str, zh: str | None = None, en: str | None = None, kind: str | None = None) -> Col:
    """The vocabulary's column ``name``, with this measure's own label or description where it gives one."""
    base = VOCABULARY.get(name)
    if base is None:
        if zh is None or kind is None:
            raise VocabularyError(f"列 {name} 不在列词汇表中(contract/columns.py),请先登记",
                                  f"column {name} is not in the vocabulary (contract/columns.py): add it there")
        return Col(name, zh, en or name, kind, UNITS.get(kind, ""))
    changes = {k: v for k, v in (("zh", zh), ("en", en), ("kind", kind)) if v is not None}
    return replace(base, **changes) if changes else base


def cols(*names: str, **overrides: tuple[str, str] | str) -> tuple[Col, ...]:
    """Columns ``names`` in order; ``overrides[name]`` is a Chinese label, or a (label, description) pair."""
    unknown = set(overrides) - set(names)
    if unknown:
        raise VocabularyError(f"覆盖了未列出的列:{', '.join(sorted(unknown))}",
                              f"overrides for columns not listed: {', '.join(sorted(unknown))}")
    out = []
    for n in names:
        o = overrides.get(n)
        if o is None:
            out.append(col(n))
        elif isinstance(o, str):
            out.append(col(n, zh=o))
        else:
            out.append(col(n, zh=o[0], en=o[1]))
    return tuple(out)

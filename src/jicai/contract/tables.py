"""The canonical input tables: the data contract of DESIGN.md as reviewed data.

Every importer, validator, simulator and measure reads column names and types from here, and
`docs/data-contract.md` must describe every table and column listed here (tests/test_docs.py).
File stems and column names are stable: add aliases freely, never rename.

Types are logical: ``str``, ``int``, ``float``, ``date`` (calendar day), ``datetime`` (local time,
Asia/Shanghai, naive), ``bool``, ``month`` (``YYYY-MM`` text). A ``check`` names a validator in
:mod:`jicai.contract.validators`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LogicalType = str  # one of TYPES
TYPES = ("str", "int", "float", "date", "datetime", "bool", "month")


@dataclass(frozen=True)
class Column:
    name: str
    type: LogicalType
    zh: str
    required: bool = True
    check: str | None = None  # validator name, e.g. "uscc", "region_code", "nonneg"
    ref: tuple[str, str] | None = None  # foreign key: (table, column)
    aliases: tuple[str, ...] = ()  # Chinese headers and national-platform field names
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    zh: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    optional: bool = False  # the whole table may be absent from a dataset
    doc: str = ""
    # How a new file that carries an existing key is merged: "replace" = the newer row wins
    # (platform exports are snapshots; the latest export of an order line is the truth).
    on_conflict: str = "replace"
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_map", {c.name: c for c in self.columns})
        assert all(c.type in TYPES for c in self.columns), self.name
        assert set(self.key) <= set(self.column_map), self.name

    def column(self, name: str) -> Column:
        return self.column_map[name]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


C = Column

TABLES: dict[str, Table] = {}


def _table(t: Table) -> Table:
    TABLES[t.name] = t
    return t


_table(Table("regions", "行政区划", ("region_code",), (
    C("region_code", "str", "行政区划代码", check="region_code", aliases=("区划代码", "行政区划代码", "地区编码", "admdvs")),
    C("name", "str", "名称", aliases=("区划名称", "地区名称", "行政区划名称", "admdvs_name")),
    C("parent_code", "str", "上级区划代码", required=False, check="region_code", ref=("regions", "region_code"),
      aliases=("上级代码", "上级区划代码", "prnt_admdvs")),
), doc="GB/T 2260 codes; a parent must be a region of this table whose code is a prefix-level ancestor."))

_table(Table("institutions", "医疗机构", ("institution_code",), (
    C("institution_code", "str", "医疗机构编码", check="institution_code",
      aliases=("机构编码", "医疗机构代码", "医疗机构编码", "定点医药机构编号", "fixmedins_code", "medins_code")),
    C("name", "str", "机构名称", aliases=("医疗机构名称", "机构名称", "定点医药机构名称", "fixmedins_name", "medins_name")),
    C("region_code", "str", "所属区划", check="region_code", ref=("regions", "region_code"),
      aliases=("区划代码", "所属区划", "行政区划代码", "admdvs")),
    C("level", "int", "医院等级", choices=("0", "1", "2", "3"), aliases=("等级", "医院等级", "机构等级", "hosp_lv"),
      doc="3/2/1/0 = 三级/二级/一级/未定级; 三级/二级/一级/未定级 are accepted as text."),
    C("kind", "str", "机构类别", choices=("hospital", "primary", "private", "village", "pharmacy"),
      aliases=("类别", "机构类别", "机构类型")),
    C("public", "bool", "是否公立", aliases=("公立", "是否公立", "公立医疗机构")),
    C("sentinel", "bool", "是否哨点", required=False, aliases=("哨点", "是否哨点", "监测哨点")),
)))

_table(Table("enterprises", "企业", ("enterprise_code",), (
    C("enterprise_code", "str", "统一社会信用代码", check="uscc",
      aliases=("统一社会信用代码", "企业代码", "社会信用代码", "uscc", "entp_code")),
    C("name", "str", "企业名称", aliases=("企业名称", "企业全称", "生产企业", "entp_name")),
    C("role", "str", "企业角色", choices=("manufacturer", "distributor", "both"), aliases=("角色", "企业角色", "企业类型")),
)))

_table(Table("batches", "集采批次", ("batch_id",), (
    C("batch_id", "str", "批次编号", aliases=("批次", "批次编号", "批次号")),
    C("name", "str", "批次名称", aliases=("批次名称",)),
    C("category", "str", "类别", choices=("drug", "consumable", "reagent"), aliases=("类别", "采购类别")),
    C("start_date", "date", "执行日", aliases=("执行日", "执行日期", "执行时间", "落地执行日期")),
    C("cycle_years", "int", "采购周期(年)", check="positive", aliases=("采购周期", "周期年数")),
    C("policy_id", "str", "执行政策", required=False, aliases=("政策", "政策编号")),
)))

_table(Table("varieties", "品种", ("variety_id",), (
    C("variety_id", "str", "品种编号", aliases=("品种编号", "品种编码", "品种ID")),
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("name", "str", "品种名称", aliases=("品种名称", "通用名", "药品通用名", "耗材类别")),
    C("unit", "str", "最小计量单位", aliases=("单位", "最小单位", "最小制剂单位", "计量单位")),
    C("baseline_unit_price", "float", "集采前加权平均价(元/最小单位)", check="nonneg", required=False,
      aliases=("集采前价格", "基准价", "集采前加权平均价", "中标前中位价")),
    C("special", "str", "特殊品种类别", required=False, choices=("shortage", "emergency", "seasonal", "demand_change"),
      aliases=("特殊品种", "特殊类别")),
    C("special_start", "date", "特殊期开始", required=False, aliases=("特殊期开始", "豁免开始")),
    C("special_end", "date", "特殊期结束", required=False, aliases=("特殊期结束", "豁免结束")),
)))

_table(Table("products", "产品", ("product_code",), (
    C("product_code", "str", "医保编码", check="product_code",
      aliases=("医保编码", "产品编码", "医保药品编码", "医保耗材编码", "药品代码", "med_list_codg", "hilist_code", "prod_code")),
    C("name", "str", "产品名称", aliases=("产品名称", "药品名称", "商品名", "注册名称")),
    C("variety_id", "str", "品种编号", required=False, ref=("varieties", "variety_id"), aliases=("品种编号", "品种编码")),
    C("spec", "str", "规格", required=False, aliases=("规格", "规格包装", "规格型号")),
    C("units_per_pack", "float", "转换比", check="positive", aliases=("转换比", "包装数量", "最小包装数量", "每包装最小单位数")),
    C("manufacturer_code", "str", "生产企业代码", required=False, check="uscc", ref=("enterprises", "enterprise_code"),
      aliases=("生产企业代码", "生产企业统一社会信用代码")),
    C("category", "str", "类别", choices=("drug", "consumable", "reagent"), aliases=("类别", "产品类别")),
    C("strength", "str", "每最小单位含量", required=False, aliases=("含量", "每单位含量", "制剂规格"),
      doc="active substance in one minimum unit, e.g. 20mg; blank = read from `spec` (jicai.contract.strength)"),
)))

_table(Table("selected_products", "中选产品", ("batch_id", "variety_id", "product_code"), (
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("variety_id", "str", "品种编号", ref=("varieties", "variety_id"), aliases=("品种编号", "品种编码")),
    C("product_code", "str", "医保编码", check="product_code", ref=("products", "product_code"),
      aliases=("医保编码", "产品编码", "医保药品编码")),
    C("enterprise_code", "str", "中选企业代码", check="uscc", ref=("enterprises", "enterprise_code"),
      aliases=("中选企业代码", "企业代码", "统一社会信用代码")),
    C("unit_price", "float", "中选价(元/最小单位)", check="nonneg", aliases=("中选价", "中选价格", "竞标价格", "最小单位中选价")),
    C("role", "str", "主供/备供", choices=("primary", "backup"), aliases=("供应角色", "主供备供", "主备供")),
    C("regions", "str", "供应地区", required=False, check="region_prefixes", aliases=("供应地区", "供应省份", "供应区域"),
      doc="blank = every region; else region-code prefixes separated by `;`"),
)))

_table(Table("agreements", "约定采购量", ("batch_id", "cycle_year", "institution_code", "variety_id"), (
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("cycle_year", "int", "采购年度", check="positive", aliases=("采购年度", "协议年度", "周期年")),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码", "fixmedins_code", "medins_code")),
    C("variety_id", "str", "品种编号", ref=("varieties", "variety_id"), aliases=("品种编号", "品种编码")),
    C("agreed_volume", "float", "约定采购量(最小单位)", check="nonneg", aliases=("约定采购量", "约定量", "协议采购量")),
    C("signed_date", "date", "签订日期", required=False, aliases=("签订日期", "协议签订日期")),
    C("product_code", "str", "约定产品", required=False, check="product_code", ref=("products", "product_code"),
      aliases=("约定产品", "医保编码", "产品编码")),
)))

_table(Table("volume_reports", "报量", ("batch_id", "cycle_year", "institution_code", "variety_id"), (
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("cycle_year", "int", "采购年度", check="positive", aliases=("采购年度", "报量年度")),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码", "fixmedins_code")),
    C("variety_id", "str", "品种编号", ref=("varieties", "variety_id"), aliases=("品种编号", "品种编码")),
    C("reported_volume", "float", "报送采购量(最小单位)", check="nonneg", aliases=("报量", "报送量", "需求量", "报送采购量")),
    C("reported_at", "datetime", "报量时间", aliases=("报量时间", "填报时间", "报送时间")),
)))

_table(Table("listings", "挂网", ("product_code", "effective_date"), (
    C("product_code", "str", "医保编码", check="product_code", ref=("products", "product_code"),
      aliases=("医保编码", "产品编码")),
    C("listed_unit_price", "float", "挂网价(元/最小单位)", check="nonneg", aliases=("挂网价", "挂网价格", "最小单位挂网价")),
    C("status", "str", "挂网状态", choices=("listed", "suspended", "delisted"), aliases=("挂网状态", "状态")),
    C("effective_date", "date", "生效日期", aliases=("生效日期", "挂网日期")),
)))

# 对码 (seed 000: 及时对码更新维护): a hospital's or a platform's own product codes and what they stand for. They load
# before the orders so that a folder's order lines find the mappings confirmed for them (jicai.ingest.codemap).
_SCOPE_DOC = "the institution_code whose own codes these are, or `platform` for codes of a procurement platform"
_table(Table("local_products", "本地产品目录", ("scope", "local_code"), (
    C("scope", "str", "编码来源", check="code_scope", aliases=("编码来源", "对码范围", "医疗机构编码", "机构编码"),
      doc=_SCOPE_DOC),
    C("local_code", "str", "本地编码", aliases=("本地编码", "院内编码", "本院编码", "院内药品编码", "HIS编码", "药品编码")),
    C("name", "str", "本地名称", aliases=("本地名称", "药品名称", "通用名", "产品名称", "品名")),
    C("spec", "str", "规格", required=False, aliases=("规格", "规格包装", "剂量规格")),
    C("units_per_pack", "float", "转换比", required=False, check="positive",
      aliases=("转换比", "包装数量", "每包装最小单位数")),
    C("manufacturer", "str", "生产企业", required=False, aliases=("生产企业", "生产厂家", "厂家", "生产企业名称")),
    C("product_code", "str", "医保编码(自报)", required=False, check="product_code",
      aliases=("医保编码", "国家医保编码", "医保药品编码", "med_list_codg"),
      doc="the national code the source's own file states, if any: proposed for confirmation, never applied unconfirmed"),
), optional=True, doc="A hospital's (or platform's) product dictionary: what each local code is. `jicai mapping suggest` "
                      "proposes national product codes from it; see docs/mapping.md."))

_table(Table("product_mappings", "对码结果", ("scope", "local_code"), (
    C("scope", "str", "编码来源", check="code_scope", aliases=("编码来源", "对码范围", "医疗机构编码", "机构编码"),
      doc=_SCOPE_DOC),
    C("local_code", "str", "本地编码", aliases=("本地编码", "院内编码", "本院编码")),
    C("product_code", "str", "医保编码", required=False, check="product_code", ref=("products", "product_code"),
      aliases=("医保编码", "国家医保编码", "产品编码"), doc="blank when the status is `rejected`"),
    C("status", "str", "对码状态", choices=("confirmed", "rejected"), aliases=("对码状态", "状态"),
      doc="confirmed = the local code is this product (the importer applies it); rejected = it has no national "
          "product (its order lines stay quarantined)"),
    C("score", "float", "匹配得分", required=False, check="nonneg", aliases=("匹配得分", "得分"),
      doc="0–100, the score of the proposal that was confirmed"),
    C("method", "str", "对码方式", required=False, choices=("exact", "fuzzy", "file", "manual"),
      aliases=("对码方式",), doc="exact/fuzzy = proposed by the matcher; file = stated in local_products; manual"),
    C("decided_by", "str", "确认人", required=False, aliases=("确认人", "操作人")),
    C("decided_at", "datetime", "确认时间", required=False, aliases=("确认时间", "操作时间")),
), optional=True, doc="The bureau's decisions: which national product each local code stands for. Written by "
                      "`jicai mapping confirm|reject` and the /mapping page; importable as a file (a platform's 对码表)."))

_table(Table("orders", "订单明细", ("order_line_id",), (
    C("order_line_id", "str", "订单明细编号", aliases=("订单明细编号", "订单明细ID", "明细编号", "ord_detl_id")),
    C("order_id", "str", "订单编号", aliases=("订单编号", "订单号", "ord_id")),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码", "采购机构编码", "medins_code", "fixmedins_code")),
    C("product_code", "str", "医保编码", check="product_code", ref=("products", "product_code"),
      aliases=("医保编码", "产品编码", "医保药品编码", "med_list_codg", "hilist_code")),
    C("distributor_code", "str", "配送企业代码", check="uscc", ref=("enterprises", "enterprise_code"),
      aliases=("配送企业代码", "配送企业编码", "配送企业统一社会信用代码", "dels_entp_code")),
    C("quantity", "float", "采购数量(包装)", check="nonneg", aliases=("采购数量", "订购数量", "数量", "purc_cnt")),
    C("pack_price", "float", "采购单价(元/包装)", check="nonneg", aliases=("采购价格", "采购单价", "单价", "purc_pric")),
    C("ordered_at", "datetime", "下单时间", aliases=("下单时间", "订单时间", "采购时间", "ord_time")),
    C("channel", "str", "采购渠道", choices=("platform", "offline"), aliases=("采购渠道", "渠道", "采购方式"),
      doc="platform = 平台采购, offline = 线下采购"),
)))

_table(Table("deliveries", "配送验收", ("order_line_id",), (
    C("order_line_id", "str", "订单明细编号", ref=("orders", "order_line_id"),
      aliases=("订单明细编号", "订单明细ID", "明细编号", "ord_detl_id")),
    C("responded_at", "datetime", "响应时间", required=False, aliases=("响应时间", "企业响应时间")),
    C("shipped_at", "datetime", "发货时间", required=False, aliases=("发货时间", "配送时间")),
    C("shipped_quantity", "float", "发货数量(包装)", required=False, check="nonneg", aliases=("发货数量", "配送数量")),
    C("accepted_at", "datetime", "验收时间", required=False, aliases=("验收时间", "入库时间", "收货时间")),
    C("accepted_quantity", "float", "验收数量(包装)", required=False, check="nonneg", aliases=("验收数量", "入库数量", "收货数量")),
)))

_table(Table("payments", "回款", ("payment_id",), (
    C("payment_id", "str", "支付编号", aliases=("支付编号", "回款编号", "付款编号")),
    C("order_line_id", "str", "订单明细编号", ref=("orders", "order_line_id"), aliases=("订单明细编号", "明细编号")),
    C("amount", "float", "支付金额(元)", check="nonneg", aliases=("支付金额", "回款金额", "付款金额")),
    C("paid_at", "datetime", "支付时间", aliases=("支付时间", "回款时间", "付款时间")),
)))

_table(Table("supply_problems", "供应问题", ("report_id",), (
    C("report_id", "str", "报告编号", aliases=("报告编号", "反馈编号")),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码")),
    C("product_code", "str", "医保编码", check="product_code", ref=("products", "product_code"), aliases=("医保编码", "产品编码")),
    C("problem", "str", "问题类型", choices=("shortage", "late", "selective", "other"), aliases=("问题类型", "问题")),
    C("reported_at", "datetime", "反馈时间", aliases=("反馈时间", "报告时间")),
    C("verified", "bool", "是否核实", aliases=("是否核实", "核实", "已核实")),
    C("start_date", "date", "问题期开始", required=False, aliases=("开始日期", "问题期开始")),
    C("end_date", "date", "问题期结束", required=False, aliases=("结束日期", "问题期结束")),
)))

_table(Table("prepayments", "预付金", ("batch_id", "cycle_year", "institution_code", "paid_at"), (
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("cycle_year", "int", "采购年度", check="positive", aliases=("采购年度",)),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码")),
    C("amount", "float", "预付金额(元)", check="nonneg", aliases=("预付金额", "预付金")),
    C("paid_at", "date", "拨付日期", aliases=("拨付日期", "预付日期")),
), optional=True))

_table(Table("capitation", "按人头付费", ("period", "institution_code"), (
    C("period", "str", "结算期", aliases=("结算期", "期间", "年度")),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码")),
    C("enrolled", "int", "签约人数", check="nonneg", aliases=("签约人数", "人头基数", "参保人数")),
    C("per_capita_standard", "float", "人均付费标准(元)", check="nonneg", aliases=("人均付费标准", "人头标准")),
    C("actual_spending", "float", "实际支出(元)", check="nonneg", aliases=("实际支出", "实际费用")),
), optional=True))

_table(Table("pharmacy_settlements", "药店结算", ("settlement_id",), (
    C("settlement_id", "str", "结算编号", aliases=("结算编号", "结算ID", "setl_id")),
    C("pharmacy_code", "str", "药店编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("药店编码", "定点药店编码", "机构编码")),
    C("settled_at", "datetime", "结算时间", aliases=("结算时间", "setl_time")),
    C("product_code", "str", "医保编码", check="product_code", ref=("products", "product_code"), aliases=("医保编码", "产品编码")),
    C("quantity", "float", "数量(最小单位)", check="nonneg", aliases=("数量", "结算数量")),
    C("amount", "float", "金额(元)", check="nonneg", aliases=("金额", "结算金额")),
    C("proxy", "bool", "是否代购", aliases=("代购", "是否代购")),
    C("proxy_registered", "bool", "代购已登记", required=False, aliases=("代购登记", "代购已登记")),
), optional=True))

_table(Table("video_status", "视频联动状态", ("pharmacy_code", "start_at"), (
    C("pharmacy_code", "str", "药店编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("药店编码", "定点药店编码")),
    C("start_at", "datetime", "开始时间", aliases=("开始时间",)),
    C("end_at", "datetime", "结束时间", aliases=("结束时间",)),
    C("status", "str", "状态", choices=("online", "offline"), aliases=("状态", "视频状态")),
), optional=True))

_table(Table("pharmacy_stock", "药店进销存", ("pharmacy_code", "product_code", "period"), (
    C("pharmacy_code", "str", "药店编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("药店编码", "定点药店编码")),
    C("product_code", "str", "医保编码", check="product_code", ref=("products", "product_code"), aliases=("医保编码", "产品编码")),
    C("period", "month", "月份", aliases=("月份", "期间")),
    C("opening", "float", "期初库存", check="nonneg", aliases=("期初库存", "期初")),
    C("purchased", "float", "本期购进", check="nonneg", aliases=("本期购进", "购进")),
    C("closing", "float", "期末库存", check="nonneg", aliases=("期末库存", "期末")),
), optional=True))

_table(Table("violations", "违规查处", ("case_id",), (
    C("case_id", "str", "案件编号", aliases=("案件编号",)),
    C("pharmacy_code", "str", "药店编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("药店编码", "定点药店编码")),
    C("found_at", "date", "查处日期", aliases=("查处日期", "发现日期")),
    C("kind", "str", "违规类型", aliases=("违规类型",)),
    C("action", "str", "处理方式", choices=("notice", "suspend", "recover"), aliases=("处理方式", "处理")),
    C("recovered_amount", "float", "追回金额(元)", required=False, check="nonneg", aliases=("追回金额",)),
), optional=True))

_table(Table("budgets", "医保预算", ("year", "institution_code"), (
    C("year", "int", "年度", aliases=("年度",)),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码")),
    C("total_budget", "float", "总额预算(元)", check="nonneg", aliases=("总额预算", "年度预算")),
), optional=True))

_table(Table("fund_spending", "医保支出", ("month", "institution_code"), (
    C("month", "month", "月份", aliases=("月份",)),
    C("institution_code", "str", "医疗机构编码", check="institution_code", ref=("institutions", "institution_code"),
      aliases=("机构编码", "医疗机构代码", "医疗机构编码")),
    C("amount", "float", "医保支出(元)", check="nonneg", aliases=("支出金额", "医保支出", "金额")),
), optional=True))


_table(Table("vbp_results", "集采中选结果", ("batch_id", "variety_id", "spec", "enterprise_name"), (
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("variety_id", "str", "品种编号", aliases=("品种编号", "品种编码"),
      doc="also set for varieties whose bid failed (流标), which have no row in `varieties`"),
    C("drug_name", "str", "药品通用名", aliases=("药品通用名", "通用名", "品种名")),
    C("spec", "str", "规格", aliases=("规格", "规格包装")),
    C("pack", "str", "中选规格包装", required=False, aliases=("中选规格包装", "包装")),
    C("enterprise_name", "str", "生产企业全称", aliases=("生产企业-全称", "生产企业全称", "企业全称", "拟中选企业")),
    C("enterprise_short_name", "str", "生产企业简称", required=False, aliases=("生产企业-简称", "生产企业简称", "企业简称")),
    C("originator", "bool", "是否原研", required=False, aliases=("是否原研", "原研")),
    C("foreign", "bool", "是否外企", required=False, aliases=("是否外企", "外企")),
    C("won", "bool", "是否中选", aliases=("是否中标", "是否中选")),
    C("max_price", "float", "最高限价(元/最小单位)", required=False, check="nonneg", aliases=("最高限价", "最高有效申报价")),
    C("baseline_unit_price", "float", "中标前中位价(元/最小单位)", required=False, check="nonneg",
      aliases=("中标前中位价", "中标前中位价（最小规格）", "企业近三年平均价")),
    C("unit_price", "float", "竞标价格(元/最小单位)", required=False, check="nonneg",
      aliases=("竞标价格", "竞标价格（最小规格）", "最小规格价格", "中选价")),
    C("supply_regions", "str", "供应省份", required=False, aliases=("供应省份", "供应省（区）", "供应地区"),
      doc="6-digit GB/T 2260 codes separated by `;` (provinces; the eleven pilot cities for 4+7)"),
    C("source_sheet", "str", "来源工作表", required=False, aliases=("来源工作表", "工作表")),
    C("source_row", "int", "来源行号", required=False, aliases=("来源行号", "行号")),
), optional=True, doc="Every bid of a national VBP announcement (中选结果表), winning or not, as announced; "
                      "`jicai import-announcement` writes it and derives `varieties` and `selected_products`."))

_table(Table("vbp_agreed_volumes", "首年约定采购量", ("batch_id", "variety_id", "spec", "region_code"), (
    C("batch_id", "str", "批次编号", ref=("batches", "batch_id"), aliases=("批次", "批次编号")),
    C("variety_id", "str", "品种编号", aliases=("品种编号", "品种编码")),
    C("spec", "str", "规格", aliases=("规格",)),
    C("region_code", "str", "地区代码", check="region_code", aliases=("地区代码", "行政区划代码", "区划代码")),
    C("volume", "float", "约定采购量(最小单位)", check="nonneg",
      aliases=("首年约定采购量", "约定采购量", "采购数量"), doc="in minimum units (the announcements' 万片 × 10000)"),
    C("unit", "str", "最小计量单位", aliases=("单位", "最小单位")),
    C("source_sheet", "str", "来源工作表", required=False, aliases=("来源工作表", "工作表")),
    C("source_row", "int", "来源行号", required=False, aliases=("来源行号", "行号")),
), optional=True, doc="First-year agreed volumes of a national VBP batch per variety × strength × province "
                      "(× pilot city for 4+7), as announced (约定采购量表)."))

_table(Table("ddd", "限定日剂量(DDD)", ("atc_code", "route"), (
    C("atc_code", "str", "ATC编码", aliases=("ATC编码", "ATC代码", "ATC"), doc="ATC level 5, e.g. C10AA05"),
    C("inn_zh", "str", "通用名", required=False, aliases=("通用名", "药品通用名"),
      doc="the substance's Chinese name as product names write it (阿托伐他汀); blank = keep the bundled one "
          "(a substance the bundled table lacks needs it: products are matched by it)"),
    C("route", "str", "给药途径", aliases=("给药途径", "途径", "Adm.R"),
      doc="WHO's administration route as the Index writes it: O oral, P parenteral, Inhal inhaled, R, SL, TD, N, V"),
    C("ddd", "float", "DDD值", check="positive", aliases=("DDD值", "DDD", "限定日剂量")),
    C("unit", "str", "DDD单位", aliases=("DDD单位", "单位"), doc="mg, g, mcg, IU, U (any case)"),
    C("source", "str", "来源", required=False, aliases=("来源", "依据"),
      doc="where the value comes from, e.g. WHO ATC/DDD Index 2025 or the bureau's own decision"),
), optional=True, doc="The bureau's DDDs: each row replaces the bundled WHO DDD of the same ATC code and route "
                      "(jicai/analytics/data/who_ddd.csv) or adds one (docs/classes.md)."))


def table(name: str) -> Table:
    """The contract of one table; KeyError names the known tables."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


# Order in which tables load so that references resolve (parents first).
LOAD_ORDER: tuple[str, ...] = tuple(TABLES)

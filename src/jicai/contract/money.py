"""The money grid of the contract: amounts carry 2 decimals (fen), unit prices 4 to 6.

The constants live here, below every layer, because both the importer (which keeps the compact facts,
:mod:`jicai.ingest.facts`) and the measures (:mod:`jicai.measures.exact`) apply the same one rule of
when a remainder is "at least one fen"; their reasoning is written in :mod:`jicai.measures.exact`.

>>> HALF_FEN
0.0049995
"""

MICRO = 1_000_000  # the noise grid: 10⁻⁶ of the unit (micro-yuan, micro-point)
MICRO_PER_FEN = MICRO // 100
HALF_FEN = (MICRO_PER_FEN // 2 - 0.5) / MICRO  # 0.0049995 yuan: the least amount that rounds to one fen

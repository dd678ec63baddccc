"""Fund supervision (基金监管) of seed 004 (盐城): capitation surplus return by the median-optimal method
(中值最优法), pharmacy settlement checks (视频联动、进销存、大额、代购), the real-time settlement gate, and
budget progress for the quarterly consultation (会商).

Measures are Ibis expressions (:mod:`capitation`, :mod:`pharmacy`, :mod:`budget`); the gate
(:mod:`gate`) is an in-memory index for the settlement path. Money and ratios that pick a tier or raise a
flag are compared in integers (fen and basis points, :mod:`jicai.measures.exact`) so that a figure exactly on an edge
lands on the same side on every engine.
"""

from __future__ import annotations

from jicai.errors import MeasureError


class FundError(MeasureError):
    """A fund measure cannot run as asked (bad period, month or date): a message in both languages."""

"""Annual assessment (年度考核), surplus retention (结余留用) and the prepayment ledger (预付)."""

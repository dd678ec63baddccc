"""Analytics beyond the policy texts' rules: therapeutic classes and DDDs, substitution, peers and savings,
change detection, volume forecasts, supply risk, and what-if runs of another policy.

Built on measures (the layer below) and registered like them: every ``MEASURES`` tuple in this package's
modules is found through the ``jicai.measures`` entry point ``analytics``. Aggregations stay Ibis expressions;
statistics (CUSUM, forecasts) run in Python on small aggregated monthly series only, each module saying its bound.
"""

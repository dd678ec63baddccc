"""Policies are data: parameters with values, units, citations and effective dates (see models.py)."""

from jicai.policy.models import SPECS, Parameter, ParameterSpec, Policy, load_policy

__all__ = ["SPECS", "Parameter", "ParameterSpec", "Policy", "load_policy"]

"""Verify a configured peering both ways, as the runbook's last step does, and explain the verdict."""

from peering_autopilot.lambda_adapter import VERIFY

# Powertools' Logger, Tracer and Metrics wrap it, built once per container at import.
lambda_handler = VERIFY.lambda_handler()

"""Tidy up after a peering ends: its routes and the autopilot's own rules, on both managed sides."""

from peering_autopilot.lambda_adapter import CLEANUP

# Powertools' Logger, Tracer and Metrics wrap it, built once per container at import.
lambda_handler = CLEANUP.lambda_handler()

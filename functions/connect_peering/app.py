"""Peering groups hands-off: request the peering two VPCs of a group should have, and withdraw the
autopilot's own group peering once its VPCs share no group."""

from peering_autopilot.lambda_adapter import CONNECT

# Powertools' Logger, Tracer and Metrics wrap it, built once per container at import.
lambda_handler = CONNECT.lambda_handler()

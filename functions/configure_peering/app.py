"""Configure routes and security-group rules on both sides of an accepted peering."""

from peering_autopilot.lambda_adapter import CONFIGURE

# Powertools' Logger, Tracer and Metrics wrap it, built once per container at import.
lambda_handler = CONFIGURE.lambda_handler()

"""Find what the events missed: on a schedule, over every managed account and region; and at once
for a VPC that just opted in. Publishes the work it finds; other functions do it."""

from peering_autopilot.lambda_adapter import SWEEP

# Powertools' Logger, Tracer and Metrics wrap it, built once per container at import.
lambda_handler = SWEEP.lambda_handler()

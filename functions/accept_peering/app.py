"""Accept peering requests: CloudTrail CreateVpcPeeringConnection events from the hub or a member,
and requests a sweep or an opt-in found."""

from peering_autopilot.lambda_adapter import ACCEPT

# Powertools' Logger, Tracer and Metrics wrap it, built once per container at import.
lambda_handler = ACCEPT.lambda_handler()

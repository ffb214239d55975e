"""Peering Autopilot domain: decisions and actions for VPC peering, independent of Lambda.

Every entry point takes its AWS access (a gateway) and its settings as arguments, so the same code
runs in the Lambda functions, in the local demo and in the tests.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"

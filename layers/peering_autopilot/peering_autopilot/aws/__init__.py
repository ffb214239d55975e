"""The gateways: one small wrapper per AWS service, each the only path to its service.

Every module here takes a boto3 client (or session). The gateways turn AWS responses into model
objects (peerings, VPCs, route tables, security groups, network ACLs); instances, subnets, probe
interfaces, Reachability Analyzer analyses and SSM command invocations still come back as AWS's
own dicts, read only by the probe's endpoint choice and the analyzer and ping adapters. Every call runs inside `calls.translated`, which turns AWS error codes into the
named exceptions of `errors`, so callers decide by class. Nothing else in the package imports boto3
or botocore (an import-linter contract checks it).
"""

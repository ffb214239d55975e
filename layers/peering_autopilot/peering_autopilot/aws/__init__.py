"""The gateways: one small wrapper per AWS service, each the only path to its service.

Every module here takes a boto3 client (or session) and speaks the domain's terms: model objects
in, model objects out, and AWS error codes turned into the named exceptions of `errors`, so
callers decide by class. Nothing else in the package imports boto3 or botocore (an import-linter
contract checks it).
"""

"""A stand-in for AWS on 127.0.0.1 that answers every request for a service with the error given for
it, in that service's protocol (STS's and EC2's XML, DynamoDB's and SSM's JSON), or STS's identity:
botocore parses these answers as it parses AWS's. For the credentials' every-day mistakes
(expired, unrecognised), which no emulator answers."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class StubAws:
    url: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # service -> error code
    asked: list[str] = field(default_factory=list)  # the services asked, in order


def _answer(service: str, code: str | None) -> tuple[int, str, bytes]:
    if code is None and service == "sts":
        body = (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            "<Arn>arn:aws:iam::123456789012:user/jane</Arn><UserId>AIDAEXAMPLE</UserId>"
            "<Account>123456789012</Account></GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        )
        return 200, "text/xml", body.encode()
    code = code or "InternalFailure"
    message = "The security token included in the request is expired"
    if service in ("dynamodb", "ssm"):  # the JSON protocol
        body = f'{{"__type":"{code}","message":"{message}"}}'
        return 400, "application/x-amz-json-1.1", body.encode()
    if service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>1</RequestID></Response>"
        )
        return 400, "text/xml", body.encode()
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>1</RequestId></ErrorResponse>"
    )
    return 403, "text/xml", body.encode()


@contextlib.contextmanager
def serving() -> Iterator[StubAws]:
    stub = StubAws()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            # the service is in the signature's scope: Credential=KEY/DATE/REGION/SERVICE/aws4_request
            service = self.headers.get("Authorization", "").split("Credential=")[1].split("/")[3]
            stub.asked.append(service)
            status, kind, body = _answer(service, stub.errors.get(service))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()

"""Shared fixtures: fake credentials, a fresh moto per test, and the seed's world."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from autopilot_local.harness import LocalAutopilot, LocalCloud
from autopilot_local.metering import CallLog, count_calls
from tests.support.domain import create_bus
from tests.support.world import HUB, MEMBER, OUTSIDER, REGION, hub_parameters


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-aws", action="store_true", help="run tests marked 'real_aws' against a real account")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-aws"):
        return
    skip = pytest.mark.skip(reason="real-AWS test: opt in with --run-aws and credentials")
    for item in items:
        if item.get_closest_marker("real_aws"):
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_service_model_loader() -> Iterator[None]:
    """Every boto3 session the harness, the functions and the tests create (one per runtime, per
    assumed role, per account) would load the services' models from disk again, and most of the
    suite's time went there. All sessions of the run share one loader: the same read-only data,
    read once per process."""
    loaders: dict[str | None, Any] = {}
    create = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared)
        yield


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("real_aws"):
        return
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert "MOTO_ACCOUNT_ID" not in os.environ, "MOTO_ACCOUNT_ID overrides assumed roles: unset it"


@pytest.fixture
def mocked_aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def cloud(mocked_aws: None) -> LocalCloud:
    return LocalCloud(HUB)


@pytest.fixture
def bus(cloud: LocalCloud) -> str:
    """The hub's event bus, for tests that call a step directly."""
    return create_bus()


@pytest.fixture
def autopilot_factory(cloud: LocalCloud) -> Any:
    def make(**overrides: str) -> LocalAutopilot:
        return LocalAutopilot(
            cloud,
            hub_parameters(**overrides),
            region=REGION,
            member_accounts=(MEMBER, OUTSIDER),
            log_stream=io.StringIO(),
        )

    return make


@pytest.fixture
def api_calls() -> Iterator[CallLog]:
    with count_calls() as log:
        yield log


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def server_cloud(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloud]:
    """moto as a real HTTP endpoint, for tests whose faults must stop a request before it is sent
    (in-process mocking handles every request even when a hook answers it first)."""
    import urllib.request

    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    urllib.request.urlopen(urllib.request.Request(f"{_moto_server}/moto-api/reset", method="POST")).close()
    yield LocalCloud(HUB)

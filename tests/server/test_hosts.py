"""The allowed-hosts check: names, subdomain patterns, ports and IPv6 literals; and its answer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from digitreader.server.app import create_app
from digitreader.server.hosts import host_allowed
from digitreader.server.settings import Settings

ALLOWED = ["digits.example.org", "*.example.net", "localhost", "[::1]"]


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("digits.example.org", True),
        ("DIGITS.example.org:8000", True),
        ("a.example.net", True),
        ("a.b.example.net:443", True),
        ("example.net", False),  # the pattern is for subdomains
        ("evilexample.net", False),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("127.0.0.1", False),
        ("", False),
        ("digits.example.org.evil.com", False),
    ],
)
def test_host_allowed(host: str, ok: bool) -> None:
    assert host_allowed(host, ALLOWED) is ok


def test_a_request_for_another_host_gets_400_with_a_plain_detail(recognizer) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(Settings(allowed_hosts=ALLOWED), recognizer)) as client:
        refused = client.get("/healthz", headers={"Host": "rebound.attacker.test"})
        assert refused.status_code == 400
        assert refused.json() == {"detail": "host 'rebound.attacker.test' is not served here"}
        assert client.get("/healthz", headers={"Host": "digits.example.org"}).status_code == 200


def test_the_setting_reads_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITREADER_ALLOWED_HOSTS", "digits.example.org, *.example.net")
    assert Settings().allowed_hosts == ["digits.example.org", "*.example.net"]
    monkeypatch.delenv("DIGITREADER_ALLOWED_HOSTS")
    assert Settings().allowed_hosts == []  # any host

"""TLS and mutual TLS with a throwaway CA, and the refusal to serve plaintext off loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from adpulse.client import AdpulseClient, AdpulseError, Tls
from adpulse.server.settings import Settings, SettingsError
from tests.e2e.test_cli import ADPULSE
from tests.support.certs import Certificates, make_certificates
from tests.support.server import ServerProcess, running_server


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def _tls_env(certs: Certificates) -> dict[str, str]:
    return {"ADPULSE_TLS_CERT": str(certs.server.cert), "ADPULSE_TLS_KEY": str(certs.server.key)}


def _cli(server: ServerProcess, certs: Certificates, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            ADPULSE,
            "--target",
            server.address,
            "--ca-cert",
            str(certs.ca),
            "--api-key",
            server.admin_key,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tls_serves_and_plaintext_to_it_fails(tmp_path: Path, certs: Certificates) -> None:
    with running_server(tmp_path / "data", _tls_env(certs)) as server:
        with AdpulseClient(server.address, api_key=server.admin_key, tls=Tls(ca_cert=certs.ca)) as client:
            assert client.query_metrics().totals.impressions == 0
        with (
            AdpulseClient(server.address, api_key=server.admin_key, timeout=10) as plaintext,
            pytest.raises(AdpulseError) as caught,
        ):
            plaintext.query_metrics()
        assert caught.value.code == "UNAVAILABLE"

        out = _cli(server, certs, "kpis", "--json")
        assert out.returncode == 0, out.stderr
        assert '"totals"' in out.stdout


def test_mutual_tls_requires_a_client_certificate(tmp_path: Path, certs: Certificates) -> None:
    env = {**_tls_env(certs), "ADPULSE_TLS_CLIENT_CA": str(certs.ca)}
    with running_server(tmp_path / "data", env) as server:
        anonymous = Tls(ca_cert=certs.ca)
        with (
            AdpulseClient(server.address, api_key=server.admin_key, tls=anonymous, timeout=10) as client,
            pytest.raises(AdpulseError) as caught,
        ):
            client.query_metrics()
        assert caught.value.code == "UNAVAILABLE"

        known = Tls(ca_cert=certs.ca, client_cert=certs.client.cert, client_key=certs.client.key)
        with AdpulseClient(server.address, api_key=server.admin_key, tls=known) as client:
            assert client.query_metrics().totals.impressions == 0
        # A certificate is not a key: the call still needs one.
        with (
            AdpulseClient(server.address, api_key="", tls=known) as client,
            pytest.raises(AdpulseError) as caught,
        ):
            client.tenant_settings()
        assert caught.value.code == "UNAUTHENTICATED"

        out = _cli(
            server,
            certs,
            "--client-cert",
            str(certs.client.cert),
            "--client-key",
            str(certs.client.key),
            "kpis",
        )
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("listen", ["0.0.0.0:50051", "[::]:50051", "10.1.2.3:50051", "adpulse:50051"])
def test_plaintext_off_loopback_is_refused_unless_allowed_out_loud(listen: str) -> None:
    with pytest.raises(SettingsError, match="ADPULSE_ALLOW_INSECURE"):
        Settings.from_env({"ADPULSE_LISTEN": listen})
    assert Settings.from_env({"ADPULSE_LISTEN": listen, "ADPULSE_ALLOW_INSECURE": "1"}).allow_insecure
    tls = Settings.from_env(
        {"ADPULSE_LISTEN": listen, "ADPULSE_TLS_CERT": "c.pem", "ADPULSE_TLS_KEY": "k.pem"}
    )
    assert tls.tls_cert == Path("c.pem")


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "localhost:50051", "[::1]:50051", "127.8.9.10:1"])
def test_plaintext_on_loopback_is_the_default(listen: str) -> None:
    assert Settings.from_env({"ADPULSE_LISTEN": listen}).tls_cert is None


def test_the_server_command_says_why_it_refuses(tmp_path: Path) -> None:
    out = subprocess.run(
        [ADPULSE, "serve", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert "not a loopback address" in out.stderr and "ADPULSE_ALLOW_INSECURE=1" in out.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def test_half_a_tls_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="ADPULSE_TLS_KEY"):
        Settings.from_env({"ADPULSE_TLS_CERT": "c.pem"})
    with pytest.raises(SettingsError, match="ADPULSE_TLS_CLIENT_CA"):
        Settings.from_env({"ADPULSE_TLS_CLIENT_CA": "ca.pem"})

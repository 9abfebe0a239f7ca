"""deploy/nginx/adpulse.conf.template, the proxy bench/fairness.py measures in front of the
server: every placeholder is one the renderer fills, and the refusal it sends is one a gRPC
client reads as RESOURCE_EXHAUSTED (nginx itself runs only in the benchmark: CI has no nginx)."""

from __future__ import annotations

import re

import pytest

from tests.support.nginx import render

VALUES = {
    "NGINX_WORKERS": "2",
    "NGINX_PREFIX": "/var/run/adpulse-nginx",
    "CALLER_RATE": "300",
    "CALLER_BURST": "600",
    "ADDRESS_RATE": "5000",
    "ADPULSE_UPSTREAM": "adpulse:50051",
    "LISTEN": "0.0.0.0:8443",
}


def test_every_placeholder_is_filled_and_a_missing_one_is_named() -> None:
    conf = render(VALUES)
    assert "${" not in conf
    with pytest.raises(KeyError, match="CALLER_RATE"):
        render({k: v for k, v in VALUES.items() if k != "CALLER_RATE"})


def test_callers_and_addresses_are_limited_and_refused_as_grpc_resource_exhausted() -> None:
    conf = render(VALUES)
    zones = dict(re.findall(r"limit_req_zone\s+(\S+)\s+zone=(\w+):", conf))
    assert zones == {
        '"$http_authorization|$http_x_adpulse_tenant"': "per_caller",
        "$binary_remote_addr": "per_address",
    }
    assert "rate=300r/s" in conf and "rate=5000r/s" in conf
    assert re.search(r"limit_req zone=per_caller burst=600 nodelay;", conf)
    # A gRPC client reads grpc-status from a trailers-only answer; 8 is RESOURCE_EXHAUSTED.
    refusal = conf[conf.index("location @rate_limited") :]
    assert "add_header grpc-status 8 always;" in refusal
    assert "default_type application/grpc;" in refusal
    assert "grpc_pass grpc://adpulse;" in conf and "server adpulse:50051;" in conf
    assert "listen 0.0.0.0:8443 http2;" in conf

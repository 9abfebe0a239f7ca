"""AIP-158 page tokens: an offset bound to the query it pages, so a changed query is refused;
optionally the data version the first page was cut from, or the id of the run that computed it,
so later pages can be cut from the same result."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from google.protobuf.message import Message

from adpulse.server.domain.errors import FieldViolation, InvalidArgument


def fingerprint(tenant: str, request: Message) -> str:
    """Identity of a request apart from its paging fields (page_size may change between pages)."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("page_token")
    copy.ClearField("page_size")
    return hashlib.sha256(tenant.encode() + b"\0" + copy.SerializeToString(deterministic=True)).hexdigest()[
        :24
    ]


def encode(offset: int, query_fingerprint: str, version: int | None = None, run: str = "") -> str:
    data: dict[str, object] = {"o": offset, "q": query_fingerprint}
    if version is not None:
        data["v"] = version
    if run:
        data["r"] = run
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def decode(token: str, query_fingerprint: str) -> int:
    """The offset a token stands for; 0 for no token."""
    return decode_with_version(token, query_fingerprint)[0]


def decode_with_version(token: str, query_fingerprint: str) -> tuple[int, int | None]:
    """The offset and data version a token stands for; (0, None) for no token."""
    offset, version, _ = _decoded(token, query_fingerprint)
    return offset, version


def decode_with_run(token: str, query_fingerprint: str) -> tuple[int, str]:
    """The offset and run id a token stands for; (0, "") for no token."""
    offset, _, run = _decoded(token, query_fingerprint)
    return offset, run


def _decoded(token: str, query_fingerprint: str) -> tuple[int, int | None, str]:
    if not token:
        return 0, None, ""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, bound_to, version, run = data["o"], data["q"], data.get("v"), data.get("r", "")
        valid = (
            isinstance(offset, int)
            and offset >= 0
            and (version is None or isinstance(version, int))
            and isinstance(run, str)
        )
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        valid = False
    if not valid:
        raise InvalidArgument(
            "page_token is not a token this service issued",
            "INVALID_PAGE_TOKEN",
            violations=[FieldViolation("page_token", "not a valid page token", "INVALID_PAGE_TOKEN")],
        )
    if bound_to != query_fingerprint:
        raise InvalidArgument(
            "page_token belongs to a different query; "
            "keep every field but page_token and page_size unchanged",
            "INVALID_PAGE_TOKEN",
            violations=[FieldViolation("page_token", "issued for another query", "INVALID_PAGE_TOKEN")],
        )
    return int(offset), version, run

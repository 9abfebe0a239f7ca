"""The webhook sender: one HTTP POST per attempt, to an address checked before connecting.

The host is resolved once; every address it resolves to must pass `blocked_reason`, and the
connection goes to the checked address (the URL's host still names the TLS server and the
Host header), so a name that resolves differently on a second lookup cannot redirect the
POST into the server's network. Redirects are never followed (http.client does not follow
them; the caller judges a 3xx). One timeout bounds connecting and each read, and a watchdog
cuts the whole attempt at the same timeout, so a receiver that trickles bytes cannot hold a
worker.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Mapping, Sequence

from adpulse.server.domain.alerts import BlockedAddress, IpAddress, IpNetwork, blocked_reason

MAX_RESPONSE_BYTES = 64 << 10


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class HttpWebhookSender:
    def __init__(self, timeout: float, allowed_networks: Sequence[IpNetwork] = ()) -> None:
        self._timeout = timeout
        self._allowed = tuple(allowed_networks)
        self._tls = ssl.create_default_context()

    def post(self, url: str, headers: Mapping[str, str], body: bytes, *, loopback: bool) -> tuple[int, str]:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        try:
            addresses = _resolve(host, port)
        except OSError as err:
            return 0, f"cannot resolve {host}: {err.strerror or err}"
        for address in addresses:
            reason = blocked_reason(address, loopback_url=loopback, allowed=self._allowed)
            if reason:
                raise BlockedAddress(f"{host} resolves to {reason}; deliveries do not go there")
        target = str(addresses[0])
        conn: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(host, port, target, self._timeout, self._tls)
            if https
            else _PinnedHTTPConnection(host, port, target, self._timeout)
        )
        watchdog = threading.Timer(self._timeout, _cut, args=(conn,))
        watchdog.start()
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=body, headers=dict(headers))
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            return response.status, ""
        except TimeoutError:
            return 0, f"timed out after {self._timeout:g} s"
        except ConnectionRefusedError:
            return 0, f"connection to {host}:{port} refused"
        except ssl.SSLError as err:
            return 0, f"TLS failed: {err.reason or err}"
        except (OSError, http.client.HTTPException) as err:
            if not watchdog.is_alive():
                return 0, f"timed out after {self._timeout:g} s"
            return 0, f"{type(err).__name__}: {err}"[:300]
        finally:
            watchdog.cancel()
            conn.close()


def _resolve(host: str, port: int) -> list[IpAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[IpAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise OSError(f"no address for {host}")
    return seen


def _cut(conn: http.client.HTTPConnection) -> None:
    """Ends a blocked read from another thread (shutdown wakes it; close alone may not)."""
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

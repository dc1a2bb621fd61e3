"""The DNS resolver the doctor asks: the system's, or the servers NEWSLETTER_DNS_SERVER names.

NEWSLETTER_DNS_SERVER is one server or a comma-separated list, each an address or a host name, with a
port after a colon (`[v6]:port` for IPv6). A host name is looked up once, with the system's resolver,
when the resolver is made; the servers are then asked in the order written, the next when one fails.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import dns.exception
import dns.nameserver
import dns.resolver

from newsletter.errors import ConfigError

_EXAMPLE = "e.g. 192.0.2.53, 127.0.0.1:5353 or dns1.example.org,dns2.example.org"


def system_addresses(host: str) -> list[str]:
    """The addresses the system's resolver gives for `host`, in its order; socket.gaierror if none."""
    found = socket.getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def make_resolver(
    server: str | None,
    *,
    timeout: float = 5.0,
    addresses: Callable[[str], list[str]] = system_addresses,
) -> dns.resolver.Resolver:
    """A resolver for `server` (see the module), or the system's for None. `addresses` turns a host
    name into addresses (the system's resolver). ConfigError for a value that names no server."""
    if server is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(address, port)
            for part in server.split(",")
            for address, port in _servers(server, part, addresses)
        ]
    # `timeout` is each server's; a question may take them all in turn, so a dead first server of a
    # list leaves the next its full time instead of using up the question's.
    resolver.timeout = timeout
    resolver.lifetime = timeout * max(1, len(resolver.nameservers))
    return resolver


def _servers(value: str, part: str, addresses: Callable[[str], list[str]]) -> list[tuple[str, int]]:
    host, port = _host_port(value, part)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [(host, port)]
    try:
        found = addresses(host)
    except (OSError, UnicodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else "no address"
        raise ConfigError(
            f"NEWSLETTER_DNS_SERVER={value!r}: the host name {host!r} does not resolve ({why}); write "
            f"the DNS server's address or a name this computer can look up, {_EXAMPLE}"
        ) from None
    return [(address, port) for address in found]


def _host_port(value: str, part: str) -> tuple[str, int]:
    text = part.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(
            f"NEWSLETTER_DNS_SERVER={value!r}: write the DNS server's address, with a port after a colon "
            f"if it is not 53, and a comma between servers, {_EXAMPLE}"
        )
    return host, int(port)


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT records at `name`, each with its strings joined; [] when there is none (or no such name).

    Raises dns.exception.DNSException when the server does not answer (a timeout, SERVFAIL).
    """
    try:
        answer = resolver.resolve(name, "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


__all__ = ["dns", "make_resolver", "system_addresses", "txt_records"]

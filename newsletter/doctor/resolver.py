"""The DNS resolver the doctor asks: the system's, or the server NEWSLETTER_DNS_SERVER names."""

from __future__ import annotations

import dns.exception
import dns.resolver

from newsletter.errors import ConfigError


def make_resolver(server: str | None, *, timeout: float = 5.0) -> dns.resolver.Resolver:
    """A resolver for `server` (host or host:port, [v6]:port), or the system's for None."""
    if server is None:
        resolver = dns.resolver.Resolver()
    else:
        host, port = _host_port(server)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def _host_port(server: str) -> tuple[str, int]:
    value = server.strip()
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(
            f"NEWSLETTER_DNS_SERVER={server!r}: write the DNS server's address, with a port after a colon "
            "if it is not 53, e.g. 192.0.2.53 or 127.0.0.1:5353"
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


__all__ = ["dns", "make_resolver", "txt_records"]

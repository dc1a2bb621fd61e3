"""A DNS server on 127.0.0.1 that answers from a test zone, over UDP and TCP on one random port, for
`newsletter doctor` (NEWSLETTER_DNS_SERVER=127.0.0.1:<port>).

    with dns_server({"example.org": {"TXT": ["v=spf1 include:spf.example.com -all"]}}) as server:
        env["NEWSLETTER_DNS_SERVER"] = server.address

Names are written without the final dot; TXT values longer than 255 bytes are split into strings as a
zone file would. `server.zone` can be changed while it runs. A name with no records of the type asked
gets an empty answer; a name not in the zone gets NXDOMAIN; a name in `server.failing` gets SERVFAIL
and one in `server.silent` no answer at all (a timeout).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSServer

Zone = dict[str, dict[str, list[str]]]


def _rdata(kind: str, value: str) -> object:
    if kind == "TXT":
        data = value.encode()
        return TXT([data[i : i + 255] for i in range(0, len(data), 255)] or [b""])
    if kind == "MX":
        preference, _, host = value.partition(" ")
        return MX(host, int(preference))
    makers = {"A": A, "AAAA": AAAA, "CNAME": CNAME}
    return makers[kind](value)


@dataclass
class ZoneResolver(BaseResolver):  # type: ignore[misc]
    zone: Zone
    failing: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord | None:
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        self.asked.append((name, kind))
        reply = request.reply()
        if name in self.silent:
            return None
        if name in self.failing:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        records = {k.lower(): v for k, v in self.zone.items()}.get(name)
        if records is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        zone = {k.lower(): v for k, v in self.zone.items()}
        # A CNAME is followed within the zone, as a recursive resolver hands back the whole chain.
        while kind != "CNAME" and not records.get(kind) and records.get("CNAME"):
            target = records["CNAME"][0].rstrip(".").lower()
            reply.add_answer(RR(name, QTYPE.CNAME, rdata=CNAME(target), ttl=60))
            name, records = target, zone.get(target, {})
        for value in records.get(kind, []):
            reply.add_answer(RR(name, request.q.qtype, rdata=_rdata(kind, value), ttl=60))
        return reply


class _Handler(DNSHandler):  # type: ignore[misc]
    def handle(self) -> None:
        # A resolver that returns None stays silent: the asker times out, as with a dead server.
        resolver = self.server.resolver
        if self.server.socket_type == socket.SOCK_DGRAM:
            data = self.request[0]
            request = DNSRecord.parse(data)
            reply = resolver.resolve(request, self)
            if reply is not None:
                packed = reply.pack()
                if len(packed) > 512:
                    reply = request.reply()
                    reply.header.tc = 1
                    packed = reply.pack()
                self.request[1].sendto(packed, self.client_address)
            return
        super().handle()


class _Quiet:
    """dnslib's logger, silenced: the tests read the answers, not a line per question."""

    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None


@dataclass
class RunningDNS:
    resolver: ZoneResolver
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def zone(self) -> Zone:
        return self.resolver.zone

    @property
    def failing(self) -> set[str]:
        return self.resolver.failing

    @property
    def silent(self) -> set[str]:
        return self.resolver.silent


@contextmanager
def dns_server(zone: Zone) -> Iterator[RunningDNS]:
    resolver = ZoneResolver(zone)
    udp = DNSServer(resolver, address="127.0.0.1", port=0, handler=_Handler, logger=_Quiet())
    port = udp.server.server_address[1]
    tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, handler=_Handler, logger=_Quiet())
    udp.start_thread()
    tcp.start_thread()
    try:
        yield RunningDNS(resolver, port)
    finally:
        udp.stop()
        tcp.stop()
        udp.server.server_close()
        tcp.server.server_close()

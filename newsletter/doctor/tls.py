"""What the doctor says about a relay's TLS: the version and cipher, the certificate it showed (whose,
by whom, until when), and, when verification failed, which of the usual reasons it was."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import ssl
from collections.abc import Callable

from cryptography import x509

from newsletter.doctor.findings import Finding
from newsletter.sending.smtp import Security, SMTPSender

# OpenSSL's verify codes (X509_V_ERR_*) for the three failures people meet.
_EXPIRED = {10}  # CERT_HAS_EXPIRED
_UNTRUSTED = {18, 19, 20, 21, 2}  # self-signed, self-signed in chain, unknown issuer (local), leaf, issuer
_WRONG_NAME = {62, 64}  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
SOON = dt.timedelta(days=14)


def certificate_refused(
    area: str,
    where: str,
    host: str,
    error: ssl.SSLCertVerificationError,
    names: Callable[[], list[str]] = list,
) -> Finding:
    """What a certificate that failed verification means; `names` reads the names it is for."""
    code, said = error.verify_code, error.verify_message
    if code in _WRONG_NAME:
        found = names()
        return Finding.error(
            area,
            f"{where}: the TLS certificate is for another name than {host!r} ({said})"
            + (f"; it is for {', '.join(found[:6])}" + (" …" if len(found) > 6 else "") if found else ""),
            "NEWSLETTER_SMTP_HOST: the name on the relay's certificate, as its provider documents it "
            "(not an IP address or an alias)",
        )
    if code in _EXPIRED:
        return Finding.error(
            area,
            f"{where}: the TLS certificate has expired ({said})",
            "the relay's admin must renew its certificate; nothing to set here",
        )
    if code in _UNTRUSTED:
        return Finding.error(
            area,
            f"{where}: the TLS certificate is signed by a CA this machine does not trust ({said})",
            "NEWSLETTER_SMTP_CA_FILE: the PEM certificate of the CA that signed it, for a relay with a "
            "private CA; otherwise the relay needs a certificate from a public CA",
        )
    return Finding.error(
        area,
        f"{where}: the TLS certificate is not trusted ({said})",
        "NEWSLETTER_SMTP_HOST (the name on the certificate), or NEWSLETTER_SMTP_CA_FILE for a private CA",
    )


def certificate_names(sender: SMTPSender) -> list[str]:
    """The names the relay's certificate is for, read on a second connection that does not verify it
    (only to say which name to set); [] when that fails too."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        if sender.security is Security.SSL:
            with (
                socket.create_connection((sender.host, sender.port), sender.timeout) as raw,
                context.wrap_socket(raw, server_hostname=sender.host) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        else:
            with smtplib.SMTP(sender.host, sender.port, timeout=sender.timeout) as smtp:
                smtp.starttls(context=context)
                sock = smtp.sock
                der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    except (OSError, smtplib.SMTPException):
        return []
    return _names_in(der) if der else []


def _names_in(der: bytes) -> list[str]:
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return []
    try:
        alt = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        common = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return [str(common[0].value)] if common else []
    addresses = [str(address) for address in alt.get_values_for_type(x509.IPAddress)]
    return [*alt.get_values_for_type(x509.DNSName), *addresses]


def _name(parts: object) -> str:
    """commonName (or organizationName) of a subject or issuer as getpeercert() gives it."""
    found = {key: value for rdn in parts or () for key, value in rdn} if isinstance(parts, tuple) else {}
    return str(found.get("commonName") or found.get("organizationName") or "?")


def tls_findings(area: str, where: str, sock: ssl.SSLSocket, now: dt.datetime | None = None) -> list[Finding]:
    version, cipher = sock.version() or "?", (sock.cipher() or ("?",))[0]
    found: list[Finding] = []
    if version in ("TLSv1", "TLSv1.1", "SSLv3"):
        found.append(
            Finding.warning(
                area,
                f"{where} speaks {version}: Microsoft 365 and many receivers refuse anything before TLS 1.2",
                "the relay's TLS settings (its admin)",
            )
        )
    cert = sock.getpeercert() or {}
    alt = cert.get("subjectAltName", ())
    names = [str(pair[1]) for pair in alt if isinstance(pair, tuple) and pair[0] in ("DNS", "IP Address")]
    if "notAfter" not in cert:
        return [*found, Finding.ok(area, f"TLS: {version} ({cipher})")]
    until = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])), dt.UTC)
    shown = (
        f"TLS: {version} ({cipher}); certificate for {', '.join(names[:4]) or _name(cert.get('subject'))}, "
        f"by {_name(cert.get('issuer'))}, valid until {until:%Y-%m-%d}"
    )
    left = until - (now or dt.datetime.now(dt.UTC))
    if left < SOON:
        found.append(
            Finding.warning(
                area,
                f"{shown}: it expires in {max(left.days, 0)} day(s)",
                "the relay's admin must renew its certificate before then",
            )
        )
    else:
        found.append(Finding.ok(area, shown))
    return found

"""The unsubscribe endpoint's entry points: `create_app(settings)` for `newsletter serve` and the
tests, `application` for any other WSGI server, and `listen`, the server `newsletter serve` runs.

    gunicorn 'newsletter.web.unsubscribe:application'     # or uWSGI, mod_wsgi, waitress-serve …

`application` reads the settings from the environment and `.env` (of its working directory) on its
first request, as the CLI does, so this module is a composition root beside the CLI: the one module
of the web faces that reads settings. A mistake in them is answered 503 and logged as one line, and
is read again on the next request.

`newsletter serve` runs waitress: pure Python, a production server with a pool of threads, nothing
to compile, on any system; made to stand behind a reverse proxy that does TLS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from newsletter.config import Settings, load_settings
from newsletter.config.checks import address_setting, unsubscribe_url_setting
from newsletter.errors import ConfigError, NewsletterError
from newsletter.web.endpoint import MAX_BODY, Endpoint, EndpointConfig, StartResponse

if TYPE_CHECKING:
    from waitress.server import BaseWSGIServer, MultiSocketServer

log = logging.getLogger("newsletter.web.unsubscribe")
THREADS = 4


def endpoint_config(settings: Settings) -> EndpointConfig:
    """The endpoint's part of the settings, each checked; ConfigError for the first that is wrong."""
    if not settings.unsubscribe_url:
        raise ConfigError(
            "set NEWSLETTER_UNSUBSCRIBE_URL as the messages have it, e.g. "
            "https://nieuws.example.org/uitschrijven?token={token}: the endpoint answers at its path"
        )
    secrets = settings.unsubscribe_secrets()
    url, _ = unsubscribe_url_setting(settings.unsubscribe_url, for_real=True)
    mailto = settings.unsubscribe_mailto
    if mailto:
        mailto = address_setting("NEWSLETTER_UNSUBSCRIBE_MAILTO", mailto, display_name=False)
    return EndpointConfig(
        url=url,
        secrets=tuple(secrets),
        db=settings.db,
        layouts_dir=settings.layouts_dir,
        issues_dir=settings.issues_dir,
        sender=address_setting("NEWSLETTER_FROM", settings.from_) if settings.from_ else None,
        mailto=mailto or None,
    )


def create_app(settings: Settings) -> Endpoint:
    """The endpoint for these settings, its ledger open; ConfigError or LedgerError if it cannot work.

    It must know at least one list: a token names its list, and one for a list it does not know is
    refused. It learns them from the ledger's deliveries and from the layouts (with NEWSLETTER_FROM).
    """
    endpoint = Endpoint(endpoint_config(settings))
    try:
        if not endpoint.lists():
            raise ConfigError(
                "no newsletter to answer for: the ledger (NEWSLETTER_DB) has no delivery and no layout "
                "in NEWSLETTER_LAYOUTS gives a List-Id; set NEWSLETTER_FROM and NEWSLETTER_LAYOUTS as the "
                "sender has them"
            )
    except NewsletterError:
        endpoint.close()
        raise
    return endpoint


_made: Endpoint | None = None
_making = threading.Lock()


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The endpoint for any WSGI server, made from the settings on the first request."""
    global _made  # one endpoint per process, made when the server first calls
    with _making:
        if _made is None:
            try:
                _made = create_app(load_settings())
            except NewsletterError as e:
                log.error("the unsubscribe endpoint cannot start, answered 503: %s", e)
                start_response(
                    "503 Service Unavailable",
                    [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
                )
                return [b"Service unavailable; please try again in a few minutes.\n"]
    return _made(environ, start_response)


def listen(endpoint: Endpoint, host: str, port: int) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server for `endpoint` bound to host:port (OSError if it cannot be); `.run()` serves."""
    from waitress.server import create_server

    return create_server(
        endpoint,
        host=host,
        port=port,
        threads=THREADS,
        ident="newsletter",
        # waitress answers 413 itself to a larger body; the endpoint reads no more than this either.
        max_request_body_size=MAX_BODY,
        max_request_header_size=32 * 1024,
        # It stands behind a reverse proxy and uses neither the client's address nor the scheme.
        clear_untrusted_proxy_headers=True,
    )

"""What counts as a link: the rule for addresses in an issue file, the narrower one for values from
the audience file that end up as a link's address, and which image addresses a mail client fetches.

An issue's author writes `https://`, `mailto:` (or `http://`, `tel:`) links by hand. A value from a
CSV is data that someone else typed or exported: where it forms the start of an `href` it must be an
`https://` or `mailto:` address and nothing that could leave the attribute or run script
(`javascript:`, `data:`, `vbscript:`, quotes, spaces, control characters).
"""

from __future__ import annotations

import re

# The issue file's rule (model.Url): a full address, no spaces but in a tel: number.
ISSUE_LINK = re.compile(r"(https?://[^\s/]+\S*|mailto:\S+@\S+|tel:\+?[0-9 ()-]+)", re.IGNORECASE)
MERGED_SCHEMES = ("https://", "mailto:")
# Characters that have no business in an address and could break out of an attribute or a URL.
_UNSAFE = re.compile(r"""[\s"'<>\\`]""")


def is_issue_link(value: str) -> bool:
    """Whether `value` is a link as an issue file may write it (merge fields already replaced)."""
    bare = value.strip()
    return bool(ISSUE_LINK.fullmatch(bare)) and (bare.lower().startswith("tel:") or " " not in bare)


def merged_link_problem(value: str) -> str | None:
    """Why `value`, from the audience file, cannot be the address of a link; None when it can.

    The issue file's rule, narrowed to https:// and mailto:, and without quotes or spaces.
    """
    if not value:
        return "empty, and a link needs an address"
    if not value.isprintable() or _UNSAFE.search(value):
        return "holds a space, a quote or a control character"
    if not value[:8].lower().startswith(MERGED_SCHEMES) or not ISSUE_LINK.fullmatch(value):
        return "not a link (it must be a full https:// or mailto: address)"
    return None


def is_remote_image(src: str) -> bool:
    """Whether an image (of an issue or a layout's logo) is an https address the mail client fetches,
    rather than a file beside the issue or in the layout, which is embedded or put on the asset host.

    One rule for the issue file's check, the renderer, the layout's logo and the archive: where
    they disagreed, a logo written `HTTPS://…` was looked for as a file in the layout.
    """
    return src[:8].lower() == "https://"

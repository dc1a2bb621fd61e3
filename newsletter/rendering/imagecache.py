"""The project's folder of images already made for email, found by content: a rerender reads the
file and decodes nothing.

Here and not in `emailimage`, which stays bytes in, bytes out: this is the one place that writes a
file nobody asked for by name. The core may read and write the project's files (issues, layouts, what
`render` is asked to write); the cache is such a file, a folder of the project
(`.newsletter-cache/images/`, ignored by git), never a connection or a setting. Deleting it costs one
slower render.

A file's name is the SHA-256 of the processing version, the width asked for and the original's
bytes: a new photo under the same name, another placement or a new version of the processing each
make a new entry; nothing is ever stale. Files are written under a temporary name and renamed, so a
preview and a render at once never read half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from newsletter.rendering import emailimage, imagesize
from newsletter.rendering.emailimage import Processed

FOLDER = Path(".newsletter-cache/images")
_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}


def key(data: bytes, max_width: int) -> str:
    digest = hashlib.sha256(f"newsletter-image v{emailimage.VERSION} w{max_width}\n".encode())
    digest.update(data)
    return digest.hexdigest()


class ImageCache:
    """`process(data, max_width)` as `emailimage.process`, from the folder when it was done before."""

    def __init__(self, folder: Path = FOLDER) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0

    def process(self, data: bytes, max_width: int) -> Processed:
        name = key(data, max_width)
        for extension, content_type in _TYPES.items():
            try:
                found = (self.folder / f"{name}.{extension}").read_bytes()
            except OSError:
                continue
            self.hits += 1
            return Processed(found, content_type, extension, imagesize.dimensions(found))
        self.misses += 1
        made = emailimage.process(data, max_width)
        if made.extension in _TYPES:
            self._store(self.folder / f"{name}.{made.extension}", made.data)
        return made

    def _store(self, path: Path, data: bytes) -> None:
        # A cache that cannot be written (a read-only checkout, a full disk) only makes the next
        # render slower: never a reason to stop this one.
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            try:
                os.fchmod(fd, 0o644)  # mkstemp's 0600 would keep a colleague on the same folder out
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                Path(temporary).replace(path)
            except OSError:
                Path(temporary).unlink(missing_ok=True)
                raise

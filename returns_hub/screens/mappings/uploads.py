"""An import's file, kept between the preview and the confirm.

The upload is written under ``MEDIA_ROOT/mapping-imports/`` with a random token for a
name, and the token is kept in the uploader's session with the table, the file's name
and its SHA-256: "Confirm" applies exactly the bytes that were previewed, and only for
the person who uploaded them.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

SESSION_KEY = "mapping_imports"
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
KEPT_PER_SESSION = 10  # older previews are forgotten (and their files removed)


@dataclass(frozen=True)
class KeptUpload:
    token: str
    table: str
    name: str
    import_format: str  # csv or xlsx
    sha256: str

    @property
    def path(self) -> Path:
        return folder() / f"{self.token}.{self.import_format}"

    def read(self) -> bytes | None:
        """The kept bytes, or None if the file is gone or is not the one previewed."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return data if hashlib.sha256(data).hexdigest() == self.sha256 else None


def folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "mapping-imports"


def keep(request, table: str, upload) -> KeptUpload:
    data = b"".join(upload.chunks())
    kept = KeptUpload(
        token=secrets.token_urlsafe(24),
        table=table,
        name=Path(upload.name).name[:200],
        import_format=upload.import_format,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    folder().mkdir(parents=True, exist_ok=True)
    kept.path.write_bytes(data)
    uploads = request.session.get(SESSION_KEY, {})
    uploads[kept.token] = {
        "table": kept.table,
        "name": kept.name,
        "format": kept.import_format,
        "sha256": kept.sha256,
    }
    while len(uploads) > KEPT_PER_SESSION:  # dicts keep insertion order: oldest first
        oldest = next(iter(uploads))
        _remove(oldest, uploads.pop(oldest)["format"])
    request.session[SESSION_KEY] = uploads
    return kept


def find(request, table: str, token: str) -> KeptUpload | None:
    """The session's kept upload for this table, or None (another session's token, a
    token for another table, or one already applied or cancelled)."""
    if not TOKEN.fullmatch(token or ""):
        return None
    entry = request.session.get(SESSION_KEY, {}).get(token)
    if not entry or entry["table"] != table:
        return None
    return KeptUpload(token, entry["table"], entry["name"], entry["format"], entry["sha256"])


def discard(request, kept: KeptUpload) -> None:
    uploads = request.session.get(SESSION_KEY, {})
    uploads.pop(kept.token, None)
    request.session[SESSION_KEY] = uploads
    _remove(kept.token, kept.import_format)


def _remove(token: str, import_format: str) -> None:
    if TOKEN.fullmatch(token) and import_format in ("csv", "xlsx"):
        (folder() / f"{token}.{import_format}").unlink(missing_ok=True)

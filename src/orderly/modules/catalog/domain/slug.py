"""Slugs: the URL-safe names of products and categories."""

from __future__ import annotations

import re
import unicodedata

from orderly.shared_kernel.errors import InvalidInput

MAX_SLUG = 120
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def validate_slug(value: str, *, field: str = "slug") -> str:
    """Return ``value`` if it is a slug (lowercase letters, digits, single dashes)."""
    if not (1 <= len(value) <= MAX_SLUG) or not SLUG_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"a slug is 1-{MAX_SLUG} lowercase letters or digits in words joined by single dashes",
            field=field,
        )
    return value


def slugify(text: str, *, fallback: str) -> str:
    """A slug made from free text; accents are folded, anything else becomes a dash.

    Text with nothing usable in it (only symbols, or a script without a Latin
    transliteration) gets ``fallback``, which the caller makes unique.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", folded.lower()).strip("-")
    # Keep room for a "-<n>" suffix and cut at a word boundary when one is near.
    limit = MAX_SLUG - 8
    if len(slug) > limit:
        cut = slug.rfind("-", 0, limit + 1)
        slug = slug[: cut if cut > limit // 2 else limit].strip("-")
    return slug or fallback


def with_suffix(base: str, n: int) -> str:
    """The n-th alternative to a taken slug: ``base-n``, still within the length limit."""
    suffix = f"-{n}"
    return base[: MAX_SLUG - len(suffix)].rstrip("-") + suffix

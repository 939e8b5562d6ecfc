"""The sign-in page of the authorization endpoint: plain HTML, every value escaped.

No template engine: two small string templates, and every interpolated value
goes through ``html.escape(quote=True)``. The page has no script; its only
style sheet is allowed by hash in the Content-Security-Policy, and it may not
be framed (clickjacking).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}"
    "input[type=email],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}"
    "button{margin-top:1.2rem;padding:.6rem 1.2rem}.error{color:#a00}.muted{color:#666;font-size:.9rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""

_FORM = """<h1>Sign in</h1>
<p class="muted">to continue to <strong>{client_name}</strong> as a {audience}</p>
{error}
<form method="post" action="/oauth/authorize">
{hidden}
<label for="email">E-mail</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="{email}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">Sign in</button>
</form>
"""


def render_sign_in(
    *,
    client_name: str,
    audience: str,
    params: Mapping[str, str],
    csrf_token: str,
    email: str = "",
    error: str | None = None,
) -> str:
    """The sign-in form; ``params`` are the authorization request's own, carried in hidden fields."""
    hidden = "\n".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in [*params.items(), ("csrf_token", csrf_token)]
    )
    body = _FORM.format(
        client_name=escape(client_name),
        audience=escape(audience),
        error=f'<p class="error" role="alert">{escape(error)}</p>' if error else "",
        hidden=hidden,
        email=escape(email),
    )
    return _PAGE.format(title="Sign in", style=_STYLE, body=body)


def render_error(message: str) -> str:
    """The page shown when the request cannot safely be sent back to its redirect URI."""
    body = (
        "<h1>This sign-in link is not valid</h1>\n"
        f'<p class="error" role="alert">{escape(message)}</p>\n'
        '<p class="muted">Go back to the application and start again.</p>'
    )
    return _PAGE.format(title="Sign-in error", style=_STYLE, body=body)

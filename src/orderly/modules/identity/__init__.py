"""Identity: customers, staff, OAuth 2.0 clients, tokens and signing keys.

The module is Orderly's default authorization server (authorization code with
PKCE, client credentials, rotating refresh tokens) and the owner of customers'
profiles and addresses. Any OpenID Connect provider can replace it as the
issuer by configuration; see docs/adr/0020.
"""

"""``Idempotency-Key`` for every unsafe endpoint (docs/adr/0030-idempotency-keys.md).

A retry with the same key and the same request replays the first answer; the
same key with another request is 422, while the first still runs 409. Keys
live in PostgreSQL (``platform.idempotency_keys``) for at least 24 hours.
"""

from orderly.platform.idempotency.config import IdempotencyConfig
from orderly.platform.idempotency.install import install_idempotency
from orderly.platform.idempotency.keys import HEADER, REPLAYED_HEADER, IdempotencyKey, current_idempotency_key
from orderly.platform.idempotency.middleware import IdempotencyMiddleware
from orderly.platform.idempotency.pruner import KeyPruner
from orderly.platform.idempotency.routes import Idempotent, OptionalIdempotencyKey, RequiredIdempotencyKey
from orderly.platform.idempotency.scope import ScopeResolver, header_scope, principal_scope
from orderly.platform.idempotency.store import PostgresIdempotencyStore

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "IdempotencyConfig",
    "IdempotencyKey",
    "IdempotencyMiddleware",
    "Idempotent",
    "KeyPruner",
    "OptionalIdempotencyKey",
    "PostgresIdempotencyStore",
    "RequiredIdempotencyKey",
    "ScopeResolver",
    "current_idempotency_key",
    "header_scope",
    "install_idempotency",
    "principal_scope",
]

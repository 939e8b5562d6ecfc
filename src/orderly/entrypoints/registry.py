"""Every module Orderly has. A deployable runs a subset; topology covers all."""

from __future__ import annotations

from sqlalchemy import MetaData, Table

from orderly.modules.cart.module import CartModule
from orderly.modules.catalog.module import CatalogModule
from orderly.modules.fulfilment.module import FulfilmentModule
from orderly.modules.identity.module import IdentityModule
from orderly.modules.inventory.module import InventoryModule
from orderly.modules.ordering.module import OrderingModule
from orderly.modules.payments.module import PaymentsModule
from orderly.platform.modules import ModuleClass

# Order matters: a module may use the facades of the modules before it.
MODULES: dict[str, ModuleClass] = {
    IdentityModule.name: IdentityModule,
    CatalogModule.name: CatalogModule,
    InventoryModule.name: InventoryModule,
    CartModule.name: CartModule,
    PaymentsModule.name: PaymentsModule,
    # After catalog, inventory, payments (and cart): checkout calls their facades.
    OrderingModule.name: OrderingModule,
    FulfilmentModule.name: FulfilmentModule,
}


def all_metadata() -> list[MetaData]:
    return [module.metadata for module in MODULES.values()]


def all_outboxes() -> list[Table]:
    return [module.outbox for module in MODULES.values() if module.outbox is not None]


def resolve(names: list[str] | None) -> list[ModuleClass]:
    if not names:
        return list(MODULES.values())
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        raise ValueError(f"unknown module(s): {', '.join(unknown)}; known: {', '.join(MODULES)}")
    return [MODULES[name] for name in MODULES if name in names]

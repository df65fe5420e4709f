from returns_hub.models.connections import KhaosChannel, PlatformConnection
from returns_hub.models.digests import TeamDigest
from returns_hub.models.exceptions import ExceptionCase
from returns_hub.models.inbox import InboxDelivery, KhaosUpload
from returns_hub.models.mappings import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)
from returns_hub.models.outbox import WriteBack
from returns_hub.models.postings import Posting
from returns_hub.models.products import KhaosProduct, ProductBarcode, StockCodeHistory, StockLevel
from returns_hub.models.returns import (
    ExchangeRequest,
    InboundShipment,
    Return,
    ReturnUnit,
    StoreCreditLiability,
    TimelineEntry,
)
from returns_hub.models.screens import SavedFilter  # noqa: F401 (registers the model)

__all__ = [
    "CustomerMapping",
    "DispositionMapping",
    "ExceptionCase",
    "ExchangeRequest",
    "InboundShipment",
    "InboxDelivery",
    "KhaosChannel",
    "KhaosProduct",
    "KhaosReturnReason",
    "KhaosUpload",
    "PlatformConnection",
    "Posting",
    "ProductBarcode",
    "ReasonMapping",
    "Return",
    "ReturnUnit",
    "SkuMapping",
    "StockCodeHistory",
    "StockLevel",
    "StoreCreditLiability",
    "TeamDigest",
    "TimelineEntry",
    "WriteBack",
]

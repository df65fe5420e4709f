"""A sixth platform, as a newcomer would add one: this folder and one registry line."""

from connectors.base.connector import Connector, WebhookDialect, body_digest
from connectors.base.parsing import money, require_mapping, text
from connectors.base.signatures import HmacSignature
from returns_hub import events as ev
from returns_hub.choices import PostingPolicy
from returns_hub.platforms import PlatformSpec


def parse(payload, context):
    ret = require_mapping(payload.get("return"), "return")
    rid = text(ret, "id", "return", required=True)
    return [
        ev.ReturnOpened(
            external_id=rid,
            event_key=f"example:{rid}:opened",
            occurred_at=None,
            order_ref=text(ret, "order", "return"),
            customer_email=text(ret, "email", "return"),
            units=(
                ev.UnitData(
                    external_id="1",
                    platform_sku=text(ret, "sku", "return"),
                    price=money(ret, "price", "return"),
                ),
            ),
        )
    ]


connector = Connector(
    spec=PlatformSpec(
        slug="example",
        label="Example Returns",
        ref_prefix="EX",
        default_policy=PostingPolicy.ON_INSPECTION,
    ),
    webhooks=WebhookDialect(
        signature=HmacSignature(header="X-Example-Signature"),
        topic=lambda payload: str(payload.get("event") or ""),
        dedup_key=lambda payload, body: body_digest(body),
    ),
    parsers={"return.created": parse},
)

"""Reveni's API for the safety-net poll, through the configurable list client."""

from connectors.base.rest_list import ListShape, RestListClient


def _as_webhook(ret: dict, shape: ListShape) -> dict:
    updated = ret.get("updated_at", "")
    return {
        "event_id": f"poll:{ret.get('id')}:{updated}",
        "event": shape.topic,
        "occurred_at": updated,
        "data": {"return": ret},
    }


class ReveniClient(RestListClient):
    shape = ListShape(path="/v1/returns", topic="return.updated")
    wrap = staticmethod(_as_webhook)

    def headers(self) -> dict[str, str]:
        store = (self.connection.options or {}).get("store_id", "")
        return {**super().headers(), "X-Store-Id": store}

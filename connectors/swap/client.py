"""Swap Commerce's API for the safety-net poll, through the configurable list client."""

from connectors.base.rest_list import ListShape, RestListClient


def _as_webhook(ret: dict, shape: ListShape) -> dict:
    updated = ret.get("updated_at", "")
    return {
        "id": f"poll:{ret.get('return_id')}:{updated}",
        "event": shape.topic,
        "created_at": updated,
        "data": ret,
    }


class SwapClient(RestListClient):
    shape = ListShape(
        path="/api/returns",
        since_param="updated_at_min",
        until_param="updated_at_max",
        cursor_param="page_info",
        auth_header="X-Api-Key",
        auth_scheme="",
        topic="return.updated",
    )
    wrap = staticmethod(_as_webhook)

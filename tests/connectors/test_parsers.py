"""Every platform's parser: its fixtures parse; random and truncated bodies never
raise anything but a clear ParseError."""

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import registry
from connectors.base.errors import ParseError
from returns_hub import events as ev
from tests.conftest import FIXTURES

FOLDERS = {
    "loop": "loop",
    "happy-returns": "happy_returns",
    "reveni": "reveni",
    "swap": "swap",
    "rebound": "rebound",
}
CASES = [
    (platform, path)
    for platform, folder in FOLDERS.items()
    for path in sorted((FIXTURES / folder).glob("*.json"))
]


def parse(platform, body: bytes):
    connector = registry.get(platform)
    payload = json.loads(body)
    topic = connector.webhooks.topic(payload) if isinstance(payload, dict) else ""
    if not connector.handles(topic):
        return None
    return connector.parse(topic, payload)


@pytest.mark.parametrize(("platform", "path"), CASES, ids=lambda c: getattr(c, "name", c))
def test_every_fixture_parses_into_hub_events(platform, path):
    events = parse(platform, path.read_bytes())
    assert events, path.name
    assert isinstance(events[0], ev.ReturnOpened)
    assert all(e.event_key and e.external_id for e in events)
    assert len({e.event_key for e in events}) == len(events)  # one key per fact
    for event in events:
        if isinstance(event, ev.ReturnOpened):
            assert not event.order_ref.startswith("#")
            for unit in event.units:
                assert unit.platform_sku or unit.barcode


@pytest.mark.parametrize(("platform", "path"), CASES, ids=lambda c: getattr(c, "name", c))
def test_fields_a_platform_adds_change_no_event_key(platform, path):
    payload = json.loads(path.read_bytes())
    again = json.loads(path.read_bytes())
    again["a_field_a_platform_added"] = {"x": 1}  # lenient to added fields
    first = [e.event_key for e in parse(platform, json.dumps(payload).encode())]
    second = [e.event_key for e in parse(platform, json.dumps(again).encode())]
    assert first == second


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("platform", "path"), CASES[::2], ids=lambda c: getattr(c, "name", c))
def test_truncated_or_mangled_bodies_raise_only_parse_errors(platform, path, data):
    body = path.read_bytes()
    cut = body[: data.draw(st.integers(min_value=0, max_value=len(body)))]
    with contextlib.suppress(ParseError, json.JSONDecodeError, UnicodeDecodeError):
        parse(platform, cut)
    payload = json.loads(body)
    key = data.draw(st.sampled_from(sorted(payload)))
    payload[key] = data.draw(json_values)
    with contextlib.suppress(ParseError):
        parse(platform, json.dumps(payload).encode())
    inner = payload.get("data") or payload.get("return")
    if isinstance(inner, dict) and inner:
        target = inner.get("return") if isinstance(inner.get("return"), dict) else inner
        field = data.draw(st.sampled_from(sorted(target)))
        target[field] = data.draw(json_values)
        with contextlib.suppress(ParseError):
            parse(platform, json.dumps(payload).encode())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(FOLDERS)), json_values)
def test_random_json_raises_only_parse_errors(platform, value):
    connector = registry.get(platform)
    for topic in connector.parsers:
        with contextlib.suppress(ParseError):
            connector.parse(topic, value)

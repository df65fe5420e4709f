"""Every field of each platform's fixture, with every kind of hostile value, at the
parser (no database, so all of them): each is refused with a ParseError naming the
field, or read into events the database can hold.

A parser that raised anything else would leave its delivery ``failed`` for ever;
one that let NUL, a lone surrogate or a control character through would fail at
the database, or carry it into a Khaos document.
"""

import dataclasses
from decimal import Decimal

import pytest

from connectors import registry
from connectors.base.errors import ParseError
from tests.conftest import fixture_json
from tests.hostile import generate
from tests.hostile.test_webhooks import FIXTURES

UNFIT = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}


def _values(value):
    """Every plain value inside an event (dataclasses, tuples, lists and dicts opened)."""
    stack = [value]
    while stack:
        value = stack.pop()
        if dataclasses.is_dataclass(value):
            stack.extend(getattr(value, f.name) for f in dataclasses.fields(value))
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        else:
            yield value


def _storable(value) -> bool:
    if isinstance(value, str):
        surrogate = any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        return not surrogate and not (set(value) & UNFIT)
    if isinstance(value, Decimal):
        return value.is_finite() and abs(value) < Decimal("1e10")
    return True


CASES = [
    pytest.param(platform, kind, id=f"{platform}:{kind}")
    for platform in FIXTURES
    for kind in generate.KINDS
]


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_every_field_is_refused_by_name_or_read_safely(platform, kind):
    connector = registry.get(platform)
    valid = fixture_json(FIXTURES[platform])
    tried = refused = 0
    for path in generate.paths(valid):
        doc = generate.variant(valid, path, kind)
        topic = connector.webhooks.topic(doc)
        if not connector.handles(topic):
            continue  # stored and ignored, never parsed
        tried += 1
        try:
            events = connector.parse(topic, doc)
        except ParseError as exc:
            refused += 1
            named = [str(part) for part in path if not isinstance(part, int)]
            assert named[-1] in str(exc) or (named[-2:-1] and named[-2] in str(exc)), (
                f"{generate.name(path)}: {exc}"
            )
            assert all(_storable(c) for c in str(exc) if c not in "\t\n\r")
            continue
        unfit = [v for e in events for v in _values(e) if not _storable(v)]
        assert not unfit, f"{generate.name(path)} let {unfit[:3]!r} through"
    assert tried > 20
    if kind in ("nul", "surrogate", "bell"):
        assert refused, "poisoned text in the fields a parser reads is refused"

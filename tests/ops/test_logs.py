import json
import logging

from config.logs import JsonFormatter, logging_config


def test_json_lines_carry_extra_fields_and_exceptions():
    record = logging.makeLogRecord(
        {
            "name": "hub",
            "levelname": "WARNING",
            "msg": "signature rejected %s",
            "args": ("x",),
            "connection": "hf-loop",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "signature rejected x"
    assert line["connection"] == "hf-loop"
    assert line["level"] == "WARNING"
    assert line["ts"].endswith("+00:00")

    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    assert "ValueError: boom" in json.loads(JsonFormatter().format(failed))["exc"]


def test_plain_format_can_be_chosen():
    assert logging_config("INFO", "plain")["handlers"]["console"]["formatter"] == "plain"
    assert logging_config("INFO", "json")["handlers"]["console"]["formatter"] == "json"

"""A duration is parsed once, when the config is validated: the model holds hours, and it still
writes and prints the text the config gave, so resolved configs and their hashes do not move."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from routing_sim.loader import validate_data
from routing_sim.model.common import Hours
from routing_sim.runfolder import config_hash, resolved_config


def test_hours_is_the_number_and_keeps_the_text():
    d = Hours("90min")
    assert d == 1.5 and d.text == "90min"
    assert d * 2 == 3.0 and type(d * 2) is float and float(d) == 1.5 and type(float(d)) is float
    assert f"{d}" == str(d) == "90min" and f"{d:g}" == "1.5"
    assert Hours("60min") == Hours("1h") and hash(Hours("60min")) == hash(1.0)
    for same in (pickle.loads(pickle.dumps(d)), copy.deepcopy(d)):
        assert same == d and same.text == "90min"
    assert json.dumps(d) == "1.5"


@pytest.mark.parametrize("text", ["15", "3 parsecs", "-1h", "1e999d"])
def test_hours_refuses_what_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        Hours(text)


def test_the_model_holds_hours_and_serialises_the_text_it_was_given(base_config):
    base_config["time"]["horizon"] = "48h"
    base_config["time"].pop("timeseries_step")  # the default
    base_config["stages"]["triage"]["service"] = {"dist": "uniform", "low": "90s", "high": " 0.25h "}
    base_config["deadlines"]["handover_within_4h"]["within"] = "240min"
    cfg = validate_data(base_config)
    assert cfg.time.horizon == 48.0 and cfg.time.timeseries_step == 1.0
    service = cfg.stages["triage"].service
    assert (service.low, service.high) == (pytest.approx(90 / 3600), 0.25)
    assert cfg.deadlines["handover_within_4h"].within == 4.0

    resolved = resolved_config(cfg, 7)
    assert resolved["time"]["horizon"] == "48h" and resolved["time"]["timeseries_step"] == "1h"
    assert resolved["stages"]["triage"]["service"] == {"dist": "uniform", "low": "90s", "high": " 0.25h "}
    assert resolved["deadlines"]["handover_within_4h"]["within"] == "240min"
    again = validate_data(json.loads(json.dumps(resolved)))
    assert again == cfg and config_hash(resolved_config(again, 7)) == config_hash(resolved)

"""Spec files: read, checked, routed to each method's settings."""

import dataclasses

import pytest

from molvae.errors import ConfigError
from molvae.optimize import BOConfig, GradientConfig, Objective, SearchConfig, Term, spec_objects

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


@pytest.mark.parametrize("spec, message", [
    ({"objective": {"terms": [{"property": "qed", "goal": "up"}]}}, "goal must be one of"),
    ({"objective": {"terms": [{"property": "logp", "goal": "window", "low": 3}]}}, "window needs"),
    ({"objective": {"maximize": "potency"}}, "unknown property 'potency'"),
    ({"objective": {"maximize": "qed"}, "constraint": {}}, "unknown section"),
    ({"objective": {"maximize": "qed"}, "constraints": {"similarity_min": 0.4}}, "needs a start molecule"),
    ({"objective": {"maximize": "qed"}, "constraints": {"smarts_required": ["[C"]}}, "not a valid SMARTS"),
    ({"objective": {"maximize": "qed"}, "search": {"method": "annealing"}}, "unknown optimizer"),
    ({"objective": {}}, "at least one term"),
])
def test_spec_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        spec_objects(spec)


@pytest.mark.parametrize("make, message", [
    (lambda: SearchConfig(start="C1CC"), "start: not a valid SMILES: 'C1CC'"),
    (lambda: Objective([Term("similarity")], reference="xyz"), "reference: not a valid SMILES: 'xyz'"),
    (lambda: SearchConfig(method="gradient", gradient=GradientConfig(climb_radius=0)), "climb_radius must be positive"),
    (lambda: SearchConfig(method="bo", bo=GradientConfig()), "bo settings must be a BOConfig"),
    (lambda: spec_objects({"objective": {"maximize": "qed"}, "search": {"climb_radus": 0.5}}), "unknown key 'climb_radus'"),
    (lambda: spec_objects({"objective": {"maximize": "qed"}, "search": {"gradient": {"trust_region": False}}}),
     "trust_region"),
    (lambda: spec_objects({"objective": {"maximise": "qed"}}), "unknown key.*maximise"),
    (lambda: spec_objects({"objective": {"terms": [{"property": "qed", "wieght": 2}]}}), "term 'qed': unknown key.*wieght"),
    (lambda: spec_objects({"objective": {"maximize": "qed"}, "search": {"start": "Q"}}), "not a valid SMILES: 'Q'"),
    (lambda: spec_objects({"objective": "qed"}), r"\[objective\] must be a table"),
])
def test_user_mistakes_are_config_errors_naming_the_value(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_method_settings_are_routed_from_flat_keys_or_their_own_table():
    flat = {"objective": {"maximize": "qed"},
            "search": {"method": "gradient", "climb_radius": 0.7, "prior_weight": 0.2, "trust_region": False}}
    _, search = spec_objects(flat)
    assert search.gradient == GradientConfig(prior_weight=0.2, climb_radius=0.7) and search.bo == BOConfig(False)
    assert search.method_config is search.gradient
    nested = {"objective": {"maximize": "qed"},
              "search": {"method": "gradient", "gradient": {"climb_radius": 0.7, "prior_weight": 0.2},
                         "bo": {"trust_region": False}}}
    assert spec_objects(nested)[1] == search
    assert dataclasses.replace(search, method="bo").method_config == BOConfig(trust_region=False)

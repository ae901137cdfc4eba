"""Spec files and command-line options: read, checked, routed to each method's settings, written back."""

import dataclasses

import pytest

from molvae.errors import ConfigError
from molvae.optimize import (BOConfig, Constraints, GradientConfig, Objective, SearchConfig, Term, load_spec, spec_dict,
                             spec_from_options, spec_objects, spec_toml)

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
    (lambda: spec_from_options(budget=10), "give a spec file"),
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
    # only the chosen method's settings are written back, flat as in docs/optimize.md
    assert spec_dict(*spec_objects(flat))["search"] == {
        "method": "gradient", "budget": 500, "seed": 0, "batch_size": 20, "start_count": 100, "sigma": 0.5,
        "prior_weight": 0.2, "climb_radius": 0.7}


@pytest.mark.parametrize("objective, search", [
    (Objective([Term("qed"), Term("logp", goal="window", low=1, high=3, weight=0.2),
                Term("mw", goal="target", target=320.5, weight=0.01)],
               Constraints(similarity_min=0.4, sa_max=4.5, smarts_forbidden=["[N+](=O)[O-]"])),
     SearchConfig(method="gradient", budget=40, seed=3, start=ASPIRIN, gradient=GradientConfig(climb_radius=0.5))),
    (Objective([Term("similarity")], reference="F/C=C\\F"),  # a backslash to escape
     SearchConfig(method="bo", start_molecules=["CCO", "c1ccccc1", "CCN", "CC(=O)O", ASPIRIN], start_count=3,
                  bo=BOConfig(trust_region=False))),
    (Objective([Term("sa", goal="minimize")]), SearchConfig(start_molecules="moses:train", sigma=0.25)),
])
def test_spec_toml_reads_back_into_equal_settings(objective, search, tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(spec_toml(objective, search, header=["a header", "of two lines"]))
    assert path.read_text().startswith("# a header\n# of two lines\n")
    assert load_spec(path) == (objective, search)


def test_options_are_laid_over_a_spec(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[objective]\nmaximize = "qed"\nreference = "CCO"\n[constraints]\nsa_max = 4\n'
                    f'[search]\nmethod = "bo"\nstart = "{ASPIRIN}"\ntrust_region = false\nbudget = 50\n')
    objective, search = spec_from_options(spec, budget=20, seed=None, method="gradient", climb_radius=0.5)
    assert objective == Objective([Term("qed")], Constraints(sa_max=4), reference="CCO")
    assert (search.method, search.budget, search.seed, search.start) == ("gradient", 20, 0, ASPIRIN)
    assert search.gradient.climb_radius == 0.5 and search.bo.trust_region is False
    objective, search = spec_from_options(spec, maximize=["qed", "logp"], minimize="sa", similarity_min=0.3,
                                          start=None, batch_size=5)
    assert [(t.property, t.goal) for t in objective.terms] == [("qed", "maximize"), ("logp", "maximize"), ("sa", "minimize")]
    assert objective.reference == "CCO" and objective.constraints == Constraints(similarity_min=0.3, sa_max=4)
    assert search.batch_size == 5 and search.start == ASPIRIN
    objective, search = spec_from_options(maximize="qed", similarity_min=0.4, start=ASPIRIN)  # no spec file
    assert objective.constraints.similarity_min == 0.4 and search == SearchConfig(start=ASPIRIN)
    with pytest.raises(ConfigError, match="not both"):
        spec_from_options(spec, start_molecules="x.csv")
    with pytest.raises(ConfigError, match="needs a start molecule"):
        spec_from_options(maximize="qed", similarity_min=0.4)

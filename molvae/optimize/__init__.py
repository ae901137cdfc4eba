"""Latent-space optimization: propose molecules with target properties, scored by RDKit.

An :class:`Objective` (objective.py) turns a molecule into one number under hard constraints; an
:class:`Oracle` (oracle.py) scores proposals with an exact budget of calls; :func:`optimize`
(search.py) runs one of five methods, each in its own module with its own settings: four search the
frozen model's latent space, ``random`` (random_search.py), ``cmaes`` (cmaes.py), ``bo`` (bo.py) and
``gradient`` (gradient.py); ``policy`` (policy.py) fine-tunes a copy of the decoder on the oracle's
scores. Scorers from outside molvae (a Python function, ``module:function``, ``tdc:NAME``) are
objective terms like RDKit properties (scorers.py). Runs are described by TOML specs (spec.py); :func:`run_to_folder`
(run.py) writes a run's proposals, summary, plot and a spec that repeats it.
"""

from molvae.optimize.bo import BOConfig
from molvae.optimize.cmaes import CMAESConfig
from molvae.optimize.gradient import GradientConfig, surrogate_objective
from molvae.optimize.objective import GOALS, Constraints, Objective, Term
from molvae.optimize.oracle import BudgetExhausted, Oracle
from molvae.optimize.policy import PolicyConfig
from molvae.optimize.random_search import RandomConfig
from molvae.optimize.run import check_output_folder, report, run_to_folder, summary, top_k_auc
from molvae.optimize.search import METHODS, SearchConfig, optimize
from molvae.optimize.spec import (load_spec, read_spec, search_config, spec_dict, spec_from_options, spec_objects,
                                  spec_toml)
from molvae.optimize.state import SearchState

__all__ = ["Term", "Constraints", "Objective", "GOALS", "Oracle", "BudgetExhausted", "SearchConfig", "METHODS",
           "RandomConfig", "CMAESConfig", "BOConfig", "GradientConfig", "PolicyConfig", "SearchState", "optimize",
           "surrogate_objective", "load_spec", "read_spec", "spec_objects", "search_config", "spec_from_options",
           "spec_dict", "spec_toml", "summary", "top_k_auc", "check_output_folder", "run_to_folder", "report"]

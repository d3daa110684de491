"""What did the machine learn? Attributions of trained models, in a physicist's terms.

- :func:`ado`: the average decision ordering of two discriminants (Faucett, Thaler, Whiteson,
  arXiv:2010.11998), computed exactly over every signal-background pair in O(N log N);
- :func:`tree_shap`: XGBoost's exact Tree-SHAP values and interactions of a BDT (Lundberg et al.,
  arXiv:1802.03888), no ``shap`` dependency;
- :func:`relevance`: layer-wise relevance propagation through the DNN, CNN, PFN/EFN, ParticleNet and
  ParT (Bach et al. 2015, PLoS ONE 10 e0130140; Montavon, Samek, Mueller, arXiv:1706.07979; the rules per
  layer in :mod:`hepdl.explain.lrp`);
- :func:`permutation_importance`: the AUC lost when one input is shuffled (Breiman 2001), with a
  bootstrap-free error from the spread over repeats, for any model of a run whose inputs are a feature set;
- :func:`observable_search`: the black-box-guided search of arXiv:2010.11998 for the observables (the
  physicist's and energy flow polynomials) that reproduce a network's decisions;
- :func:`explain_run`: all of it for the models of a run directory, written to ``<run>/explain/``
  (``explain.json``, ``explain.npz``, ``explain.html`` and its figures).

Dimensions: N jets, F features.
"""

from __future__ import annotations

from hepdl.explain.attributions import permutation_importance, tree_shap
from hepdl.explain.lrp import explainable, relevance
from hepdl.explain.ordering import ado
from hepdl.explain.run import EVENT_OBSERVABLES, OBSERVABLES, explain_run
from hepdl.explain.search import efp_basis, observable_search

__all__ = ["ado", "tree_shap", "relevance", "explainable", "permutation_importance", "observable_search", "efp_basis",
           "explain_run", "OBSERVABLES", "EVENT_OBSERVABLES"]

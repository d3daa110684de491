"""The model zoo, by name: ``hepdl.models.get("particlenet", preset="small", n_features=13)``, the
physicist's baselines (cuts, the BDT) in the same registry: ``hepdl.models.get("bdt")``.
"""

from __future__ import annotations

from hepdl.models.airshowers import ArrayCNN, LDFFit, StationSet
from hepdl.models.baselines import BDT, AMSCuts, MassTau32Cut, VariableCut
from hepdl.models.cinn import ConditionalINN
from hepdl.models.deepsets import EFN, PFN
from hepdl.models.dense import CNN, DNN
from hepdl.models.kan import KAN
from hepdl.models.lbn import LBN
from hepdl.models.part import ParticleTransformer
from hepdl.models.particlenet import ParticleNet
from hepdl.models.registry import MODELS, ModelSpec, get, list_models, register, spec

__all__ = ["CNN", "ConditionalINN", "DNN", "EFN", "KAN", "LBN", "MODELS", "ModelSpec", "PFN", "ParticleNet", "ParticleTransformer", "ArrayCNN", "StationSet", "LDFFit",
           "get", "list_models", "register", "spec"]  # the baselines: hepdl.models.baselines

register(ModelSpec("dnn", DNN, "features", "arXiv:1804.06913 / arXiv:1902.09914",
                   {"paper": {"hidden": (64, 32, 32)}, "small": {"hidden": (32, 32)}}, objectives=("classify", "regress")))
# KAN: learned B-spline functions on the edges (arXiv:2404.19756). Parameters on 16 inputs and 5 outputs
# (the hls4ml jet tagger): paper 4225 (16-20-5, grid 5, order 3; the dnn paper preset 16-64-32-32-5 has 4389),
# small 1693 (16-8-5; the dnn small preset 16-32-32-5 has 1765). A layer I -> J has I * J * (grid + order + 2) + J.
register(ModelSpec("kan", KAN, "features", "arXiv:2404.19756",
                   {"paper": {"hidden": (20,), "grid": 5, "order": 3}, "small": {"hidden": (8,), "grid": 5, "order": 3}},
                   objectives=("classify", "regress")))
# kan-gam: a KAN without a hidden layer, logit = sum_i phi_i(x_i) + b, a generalised additive model whose
# every edge is one readable function of one observable (symbolic_model / formula in hepdl.models.kan).
# Parameters: F * O * (grid + order + 2) + O; on the 16 hls4ml features, one logit: paper 209, small 161.
register(ModelSpec("kan-gam", KAN, "features", "arXiv:2404.19756 (one layer: an additive model of the observables)",
                   {"paper": {"hidden": (), "grid": 8, "order": 3}, "small": {"hidden": (), "grid": 5, "order": 3}},
                   objectives=("classify", "regress")))
register(ModelSpec("ae", DNN, "features", "arXiv:1808.08979 (a dense autoencoder on observables)",
                   {"paper": {"hidden": (64, 32, 8, 32, 64)}, "small": {"hidden": (32, 4, 32)}}, objectives=("reconstruct",)))
register(ModelSpec("cnn", CNN, "image", "arXiv:1701.08784",
                   {"paper": {"filters": 8, "dense": (64, 64, 64)}, "small": {"filters": 4, "dense": (32,)}}))
# PFN/EFN: the paper's latent size (256) in both presets. With a latent of 32 ("small" before) both sat
# below the jet-mass cut on 10k top/QCD jets (AUC 0.938 / 0.936 vs 0.948), with 256 above it (0.960 / 0.960),
# as the paper's latent-dimension scan (arXiv:1810.05165, fig. 7) leads one to expect; they stay cheap.
_FLOW = {"phi": (100, 100, 256), "f": (100, 100, 100)}
register(ModelSpec("pfn", PFN, "cloud", "arXiv:1810.05165", {"paper": dict(_FLOW), "small": dict(_FLOW)}))
register(ModelSpec("efn", EFN, "cloud", "arXiv:1810.05165", {"paper": dict(_FLOW), "small": dict(_FLOW)}))
register(ModelSpec("particlenet", ParticleNet, "cloud", "arXiv:1902.08570",
                   {"paper": {}, "small": {"k": 7, "blocks": ((16, 16, 16), (32, 32, 32)), "fusion": 64, "dense": 32}}))
register(ModelSpec("particlenet-lite", ParticleNet, "cloud", "arXiv:1902.08570",
                   {"paper": {"k": 7, "blocks": ((32, 32, 32), (64, 64, 64)), "fusion": 128, "dense": 128},
                    "small": {"k": 7, "blocks": ((16, 16, 16), (32, 32, 32)), "fusion": 64, "dense": 32}}))
register(ModelSpec("part", ParticleTransformer, "cloud", "arXiv:2202.03772",
                   {"paper": {}, "small": {"embed": (32, 64, 32), "pair_embed": (16, 16), "heads": 4, "n_blocks": 2,
                                           "n_class_blocks": 1, "ffn": 64}}))
register(ModelSpec("lbn", LBN, "cloud", "arXiv:1812.09722",
                   # small: 20 particles, 12 combinations and (64, 64) sat at the mass cut on 10k top/QCD jets
                   # (AUC 0.945 vs 0.948); 30, 16 and (256, 256) reach 0.960 in 10 s
                   {"paper": {}, "small": {"n_particles": 30, "n_combinations": 16, "hidden": (256, 256)}}))

# the physicist's baselines: one fit/score interface (hepdl.models.baselines)
_NONE: dict[str, dict[str, object]] = {"paper": {}, "small": {}}
register(ModelSpec("mass-cut", VariableCut, "cut", "arXiv:1902.09914", {"paper": {"variable": "mass_sd"}, "small": {"variable": "mass_sd"}},
                   domains=("jets",)))
register(ModelSpec("tau32-cut", MassTau32Cut, "cut", "arXiv:1011.2268", _NONE, domains=("jets",)))
register(ModelSpec("bdt", BDT, "bdt", "arXiv:1902.09914", _NONE))
# the XGBoost of the Higgs challenge (T. Chen, T. He, "Higgs boson discovery with boosted trees",
# JMLR W&CP 42 (2015) 69): -999 as missing values with learnt default branches, row subsampling,
# a minimum child weight; deeper trees at a smaller step on the paper preset
register(ModelSpec("bdt-challenge", BDT, "bdt", "arXiv:1603.02754 (XGBoost; Chen & He, JMLR W&CP 42 (2015) 69)",
                   {"paper": {"n_estimators": 3000, "max_depth": 9, "learning_rate": 0.01, "subsample": 0.9,
                              "min_child_weight": 1.0, "missing": -999.0, "early_stopping_rounds": 200},
                    "small": {"n_estimators": 1000, "max_depth": 6, "learning_rate": 0.1, "subsample": 0.9,
                              "min_child_weight": 1.0, "missing": -999.0, "early_stopping_rounds": 50}},
                   domains=("events",)))
register(ModelSpec("ams-cuts", AMSCuts, "cut", "arXiv:1501.04943 (JMLR W&CP 42 (2015) 19)", _NONE, domains=("events",)))

# air showers (surface-detector arrays): the networks of arXiv:1708.00647 and the physicist's fits
_SHOWER = ("airshowers",)
register(ModelSpec("airshower-cnn", ArrayCNN, "stations", "arXiv:1708.00647",
                   {"paper": {"trace_channels": (16, 32, 32), "trace_dim": 32, "channels": (64, 64, 128), "dense": (256,)},
                    "small": {}}, objectives=("regress", "classify"), domains=_SHOWER))
register(ModelSpec("airshower-cnn-times", ArrayCNN, "stations", "arXiv:1708.00647 (time offsets only)",
                   {"paper": {"traces": False, "signals": False, "channels": (64, 64, 128), "dense": (256,)},
                    "small": {"traces": False, "signals": False}}, objectives=("regress", "classify"), domains=_SHOWER))
register(ModelSpec("airshower-set", StationSet, "stations", "arXiv:1708.00647 idea; set transformer over stations",
                   {"paper": {"embed": 128, "heads": 8, "blocks": 4, "ffn": 256, "trace_dim": 32, "dense": (128,)},
                    "small": {}}, objectives=("regress", "classify"), domains=_SHOWER))
register(ModelSpec("ldf-fit", LDFFit, "stations", "arXiv:2007.09035 (Auger SD reconstruction), arXiv:2008.06486 (CIC)",
                   _NONE, objectives=("regress",), domains=_SHOWER, baseline=True))
register(ModelSpec("plane-fit", LDFFit, "stations", "arXiv:2007.09035 (plane fit of the start times, LDF fit, CIC energy)",
                   {"paper": {"sphere": False}, "small": {"sphere": False}}, objectives=("regress",), domains=_SHOWER, baseline=True))

# unfolding: the conditional invertible network samples the particle level given the detector level
register(ModelSpec("cinn", ConditionalINN, "features", "arXiv:2006.06685 (cINN unfolding), arXiv:1907.02392 (coupling blocks)",
                   {"paper": {"blocks": 12, "hidden": (256, 256), "embed": 64}, "small": {"blocks": 8, "hidden": (96, 96), "embed": 32}},
                   objectives=("density",)))

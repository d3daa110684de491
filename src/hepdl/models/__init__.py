"""The model zoo, by name: ``hepdl.models.get("particlenet", preset="small", n_features=13)``.

Cut-based and BDT baselines join the registry with the trainer; here are the torch models.
"""

from __future__ import annotations

from hepdl.models.deepsets import EFN, PFN
from hepdl.models.dense import CNN, DNN
from hepdl.models.lbn import LBN
from hepdl.models.part import ParticleTransformer
from hepdl.models.particlenet import ParticleNet
from hepdl.models.registry import MODELS, ModelSpec, get, list_models, register, spec

__all__ = ["CNN", "DNN", "EFN", "LBN", "MODELS", "ModelSpec", "PFN", "ParticleNet", "ParticleTransformer",
           "get", "list_models", "register", "spec"]

register(ModelSpec("dnn", DNN, "features", "arXiv:1804.06913 / arXiv:1902.09914",
                   {"paper": {"hidden": (64, 32, 32)}, "small": {"hidden": (32, 32)}}))
register(ModelSpec("cnn", CNN, "image", "arXiv:1701.08784",
                   {"paper": {"filters": 8, "dense": (64, 64, 64)}, "small": {"filters": 4, "dense": (32,)}}))
register(ModelSpec("pfn", PFN, "cloud", "arXiv:1810.05165",
                   {"paper": {"phi": (100, 100, 256), "f": (100, 100, 100)}, "small": {"phi": (32, 32, 32), "f": (32, 32)}}))
register(ModelSpec("efn", EFN, "cloud", "arXiv:1810.05165",
                   {"paper": {"phi": (100, 100, 256), "f": (100, 100, 100)}, "small": {"phi": (32, 32, 32), "f": (32, 32)}}))
register(ModelSpec("particlenet", ParticleNet, "cloud", "arXiv:1902.08570",
                   {"paper": {}, "small": {"k": 7, "blocks": ((16, 16, 16), (32, 32, 32)), "fusion": 64, "dense": 32}}))
register(ModelSpec("particlenet-lite", ParticleNet, "cloud", "arXiv:1902.08570",
                   {"paper": {"k": 7, "blocks": ((32, 32, 32), (64, 64, 64)), "fusion": 128, "dense": 128},
                    "small": {"k": 7, "blocks": ((16, 16, 16), (32, 32, 32)), "fusion": 64, "dense": 32}}))
register(ModelSpec("part", ParticleTransformer, "cloud", "arXiv:2202.03772",
                   {"paper": {}, "small": {"embed": (32, 64, 32), "pair_embed": (16, 16), "heads": 4, "n_blocks": 2,
                                           "n_class_blocks": 1, "ffn": 64}}))
register(ModelSpec("lbn", LBN, "cloud", "arXiv:1812.09722",
                   {"paper": {}, "small": {"n_particles": 20, "n_combinations": 12, "hidden": (64, 64)}}))

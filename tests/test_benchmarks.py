"""Benchmarks must not rot: every ``benchmarks/bench_*.py`` runs at a tiny size in a subprocess and
prints exactly one JSON line on standard output, with a ``benchmark`` key, its core figures present
and finite, and no key its module docstring does not document."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
EF_PYTHON = Path(os.environ.get("HEPDL_ENERGYFLOW_PYTHON", ROOT / ".venv-energyflow" / "bin" / "python"))

pytestmark = pytest.mark.slow  # the seven scripts take minutes together, even at their tiny sizes

#: Per script: tiny arguments, the figures that must be there and finite, and the keys that may be
#: null at these sizes (an error over a single repeat).
CASES: dict[str, dict] = {
    "bench_generate": {
        "args": ["--jets", "8", "--repeat", "2", "--dataset-jets", "8", "--dataset-repeat", "1", "--parts-per-sample", "1"],
        "core": ["chain_jets_per_s", "chain_over_mpi_leading_jet", "chain_over_leading_jet", "chain_events_per_s", "bare_events_per_s",
                 "chain_over_bare", "chain_over_bare_err", "speedup_2_over_1"],
        "nullable": {"jets_per_s_1_worker_err", "jets_per_s_2_workers_err", "speedup_2_over_1_err"},
    },
    "bench_airshowers": {
        "args": ["--events", "300", "--epochs", "1", "--sim-events", "50", "--repeat", "2"],
        "core": ["sim_events_per_s", "sim_over_goal", "plane_fit_angular_resolution_deg", "ldf_fit_angular_resolution_deg",
                 "airshower_cnn_angular_resolution_deg", "airshower_cnn_over_plane_fit_angular_resolution",
                 "airshower_set_xmax_resolution_above_19", "goal_angle_below_1_5_deg", "goal_xmax_below_35_above_19"],
        "nullable": set(),
    },
    "bench_unfolding": {
        "args": ["--events", "400", "--iterations", "1", "--epochs", "1"],
        "core": ["ibu_chi2_ndf_mean", "omnifold_chi2_ndf_mean", "cinn_chi2_ndf_mean", "detector_chi2_ndf_mean", "omnifold_over_ibu_chi2_ndf_mass",
                 "omnifold_beats_ibu_n", "ibu_closure_chi2_ndf_mean", "omnifold_seconds", "goal_omnifold_beats_ibu_4_of_6"],
        "nullable": set(),
    },
    "bench_explain": {
        "args": ["--train-jets", "300", "--train-epochs", "1", "--jets", "200", "--lrp-jets", "50", "--pairs", "2000",
                 "--repeat", "2", "--brute-candidates", "2"],
        "core": ["ado_exact", "ado_sampled", "ado_sampled_err", "ado_exact_over_sampled_time", "efp_basis_s", "basis_size",
                 "lrp_cnn_jets_per_s", "inference_cnn_jets_per_s", "lrp_particlenet_lite_over_inference_jets_per_s",
                 "search_cnn_s", "search_particlenet_lite_s", "brute_force_fit_s", "brute_force_over_guided_time_cnn", "search_total_s"],
        "nullable": set(),
    },
    "bench_kan": {
        "args": ["--jets", "300", "--top-jets", "300", "--epochs", "1"],
        "core": ["jet_classes_dnn_auc", "jet_classes_kan_auc", "jet_classes_kan_n_parameters", "jet_classes_kan_train_jets_per_s",
                 "jet_classes_kan_over_dnn_train_jets_per_s", "goal_kan_within_0_005_auc", "top_kan_gam_auc", "top_kan_gam_formula_auc",
                 "top_kan_gam_formula_over_network_auc"],
        "nullable": {"jet_classes_dnn_auc_err", "jet_classes_kan_auc_err", "jet_classes_kan_minus_dnn_auc_err", "top_dnn_auc_err",
                     "top_kan_auc_err", "top_kan_gam_auc_err", "top_kan_minus_dnn_auc_err", "top_kan_gam_formula_auc_err"},
    },
    "bench_features": {
        "args": ["--jets", "60", "--repeat", "2", "--energyflow-python", str(EF_PYTHON)],
        "core": ["n_max", "mean_constituents", "efp_jets_per_s", "energyflow_jets_per_s", "efp_speedup", "efp_speedup_err",
                 "efp_growth_mb", "energyflow_growth_mb", "efp_over_energyflow_memory", "efp_process_peak_rss_mb",
                 "energyflow_process_peak_rss_mb", "hls4ml_tau_jets_per_s"],
        "nullable": set(),
    },
    "bench_training": {
        "args": ["--jets", "60", "--epochs", "2", "--repeat", "2", "--models", "bdt,dnn"],
        "core": ["target_auc", "bdt_train_jets_per_s", "dnn_train_jets_per_s", "dnn_train_jets_per_s_over_bdt",
                 "bdt_time_to_target_s", "dnn_time_to_target_s", "dnn_time_to_target_over_bdt", "dnn_time_to_target_over_bdt_err",
                 "bdt_rounds", "bdt_best_round", "dnn_epochs", "bdt_val_auc", "dnn_test_auc"],
        "nullable": set(),
    },
    "bench_higgs": {
        "args": ["--events", "40", "--repeat", "2", "--sampling-events", "4"],
        "core": ["inclusive_background_neff_per_cpu_s", "weighted_background_neff_per_cpu_s", "weighted_over_inclusive_neff",
                 "ggh_tautau_pythia_ms_per_event", "ggh_tautau_final_state_ms_per_event", "ggh_tautau_detector_reco_ms_per_event",
                 "ggh_tautau_hepdl_over_pythia", "ggh_tautau_hepdl_over_pythia_err", "hepdl_over_pythia",
                 "features_events_per_s", "mmc_over_no_mmc_time"],
        # at 4 events per sample the signal window (100 < MMC < 150 GeV) may hold none of a scheme's
        "nullable": {"weighted_over_inclusive_window_neff", "weighted_over_inclusive_window_neff_err",
                     "inclusive_window_neff_per_cpu_s_err", "weighted_window_neff_per_cpu_s_err"},
    },
    "bench_inference": {
        "args": ["--train-jets", "150", "--train-epochs", "1", "--repeat", "2", "--latency-calls", "20", "--seconds", "0.05"],
        "core": ["mlp_torch_latency_p50_us", "mlp_onnxruntime_latency_p50_us", "mlp_hls4ml_latency_p50_us",
                 "mlp_onnxruntime_speedup_latency", "mlp_onnxruntime_speedup_latency_err", "mlp_hls4ml_argmax_agreement",
                 "particle_torch_jets_per_s_batch_1024", "particle_onnxruntime_speedup_batch_1024"],
        "nullable": set(),
    },
    "bench_scale": {
        "args": ["--jets", "100", "--factor", "2"],
        "core": ["memory_peak_mb_small", "memory_peak_mb_large", "stream_peak_mb_small", "stream_peak_mb_large", "memory_kb_per_jet",
                 "stream_kb_per_jet", "memory_train_jets_per_s", "stream_train_jets_per_s", "stream_over_memory_jets_per_s",
                 "memory_wall_s", "stream_wall_s", "memory_wall_over_stream_wall"],
        "nullable": {"memory_train_jets_per_s_err", "stream_train_jets_per_s_err", "stream_kb_per_jet_over_memory",
                     "memory_wall_s_err", "stream_wall_s_err"},
    },
    "bench_vs_weaver": {
        "args": ["--jets", "120", "--epochs", "1", "--repeat", "2", "--model", "part"],
        "core": ["hepdl_train_jets_per_s", "weaver_train_jets_per_s", "speedup", "speedup_err", "hepdl_test_auc", "weaver_test_auc"],
        "nullable": {"hepdl_rej_at_03", "hepdl_rej_at_03_err", "hepdl_rej_at_05", "hepdl_rej_at_05_err", "weaver_rej_at_03",
                     "weaver_rej_at_03_err", "weaver_rej_at_05", "weaver_rej_at_05_err"},
    },
}
SCRIPTS = sorted(p.stem for p in BENCH.glob("bench_*.py"))
WEAVER = ROOT / ".venv-weaver" / "bin" / "weaver"


def documented(doc: str) -> list[re.Pattern]:
    """The keys a docstring documents, as patterns: each ``token``, with ``<x>`` matching a name."""
    pats = []
    for tok in re.findall(r"``([^`]+)``", doc):
        parts = re.split(r"(<[a-z]+>)", tok)
        pats.append(re.compile("".join("[a-z0-9_]+" if re.fullmatch(r"<[a-z]+>", p) else re.escape(p) for p in parts)))
    return pats


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of the benchmark subprocesses: a cache of their own for the datasets they generate."""
    return dict(os.environ, HEPDL_CACHE=str(tmp_path_factory.mktemp("bench-cache")))


def test_every_benchmark_has_a_case():
    assert SCRIPTS, f"no benchmark in {BENCH}"
    assert sorted(CASES) == SCRIPTS, "give each benchmark script tiny arguments in CASES"


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_runs_and_prints_one_json_line(name, bench_env, tmp_path):
    if name == "bench_features" and not EF_PYTHON.exists():
        pytest.skip(f"no energyflow environment at {EF_PYTHON}")
    if name == "bench_vs_weaver" and not WEAVER.exists():
        pytest.skip(f"no weaver-core environment at {WEAVER} (make weaver)")
    case = CASES[name]
    script = BENCH / f"{name}.py"
    # cwd: an empty directory (bench_inference trains its own run when it finds no runs/jet-classes)
    run = subprocess.run([sys.executable, str(script), *case["args"]], capture_output=True, text=True, cwd=tmp_path,
                         env=bench_env, timeout=1200)
    assert run.returncode == 0, run.stderr[-4000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1, f"{name} printed {len(lines)} lines on stdout:\n{run.stdout[-3000:]}"

    def no_nan(tok: str):
        raise AssertionError(f"{name} printed {tok}: not JSON")

    out = json.loads(lines[0], parse_constant=no_nan)
    assert out["benchmark"] == name.removeprefix("bench_")
    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc and "Usage" in doc
    pats = documented(doc)
    undocumented = [k for k in out if not any(p.fullmatch(k) or p.fullmatch(k.removesuffix("_err")) for p in pats)]
    assert not undocumented, f"{name}: keys not documented in its docstring: {undocumented}"
    for key in case["core"]:
        assert key in out, f"{name}: {key} missing"
    for k, v in out.items():
        if v is None:
            assert k in case["nullable"], f"{name}: {k} is null"
        elif isinstance(v, float):
            assert math.isfinite(v), f"{name}: {k} = {v}"
        if k.endswith("_err") and v is not None:
            assert v >= 0 and k.removesuffix("_err") in out, f"{name}: {k} = {v}"
    for key in case["core"]:
        if key not in case["nullable"] and not key.endswith("_err"):
            assert isinstance(out[key], (int, float)) and out[key] >= 0, f"{name}: {key} = {out[key]}"

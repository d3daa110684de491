"""The ``hepdl`` command: a thin typer app over the library. Each command calls one function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from hepdl.errors import HepdlError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="hepdl: deep learning for particle physics.")

MappingOpt = Annotated[str | None, typer.Option(
    "--mapping", help="ROOT files: hepdl column=branch pairs, e.g. pt=Jet_pt,eta=Jet_eta,phi=Jet_phi,m=Jet_mass,label=is_signal.")]
TreeOpt = Annotated[str | None, typer.Option("--tree", help="ROOT files: the TTree to read when the file holds several.")]
KeyOpt = Annotated[str | None, typer.Option("--key", help="HDF5 files: the table to read when the file holds several.")]


def _versions(value: bool) -> None:
    """``hepdl --version``: hepdl's version and those of the physics and learning stacks it runs on."""
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    import hepdl

    parts = [f"hepdl {hepdl.__version__}"]
    for pkg in ("torch", "pythia8mc", "fastjet", "lightning", "awkward", "numpy"):
        try:
            parts.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            parts.append(f"{pkg} (not installed)")
    typer.echo(", ".join(parts))
    raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_versions, is_eager=True,
                                          help="Print the versions of hepdl, torch, pythia8mc, fastjet and exit.")] = False,
) -> None:
    """hepdl: deep learning for particle physics."""


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """``"pt=Jet_pt,eta=Jet_eta"`` -> ``{"pt": "Jet_pt", "eta": "Jet_eta"}`` (None stays None)."""
    from hepdl.errors import ConfigError

    if text is None:
        return None
    out: dict[str, str] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, branch = item.partition("=")
        if not sep or not name.strip() or not branch.strip():
            raise ConfigError(f"--mapping: {item!r} is not column=branch (e.g. pt=Jet_pt)")
        if name.strip() in out:
            raise ConfigError(f"--mapping: column {name.strip()!r} is given twice")
        out[name.strip()] = branch.strip()
    if not out:
        raise ConfigError("--mapping is empty; give column=branch pairs separated by commas")
    return out


def _open(path: Path, mapping: str | None, tree: str | None, key: str | None, stream: bool | None = False) -> Any:
    """The dataset at ``path``, read a chunk at a time when ``stream`` says so (None: by size; see
    :func:`hepdl.train.open_for_training`)."""
    from hepdl.train import open_for_training

    return open_for_training(path, stream, mapping=parse_mapping(mapping), tree=tree, key=key)


@app.command()
def generate(
    task: Annotated[str, typer.Argument(help="Task whose dataset to generate, e.g. top-tagging.")],
    n_jets: Annotated[int | None, typer.Option("--n-jets", "--n-events", "--n", "-n", help="Total number of jets, or events for an event task (default: the task's).")] = None,
    seed: Annotated[int, typer.Option(help="Dataset seed; the same seed and settings give identical files.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Dataset directory (default: <cache>/datasets/<task>-<hash>).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Cache directory (default $HEPDL_CACHE or ~/.cache/hepdl).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: number of cores).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler.")] = None,
    detector: Annotated[str | None, typer.Option(help="Detector card: atlas (the default), truth, or a path to a .toml card.")] = None,
    pileup: Annotated[float | None, typer.Option(help="Mean number of pile-up events (Poisson; default 0).")] = None,
    mpi: Annotated[bool | None, typer.Option("--mpi/--no-mpi", help="Multiple parton interactions (default: the task's; "
                                                                    "off for top-tagging as in arXiv:1902.09914).")] = None,
    sqrt_s: Annotated[float | None, typer.Option("--sqrt-s", help="Centre-of-mass energy in GeV (default: the task's).")] = None,
    pt_min: Annotated[float | None, typer.Option(help="Lower edge of the jet pT window (GeV; default: the task's).")] = None,
    pt_max: Annotated[float | None, typer.Option(help="Upper edge of the jet pT window (GeV; default: the task's).")] = None,
    pthat_min: Annotated[float | None, typer.Option(help="Lower edge of the pT-hat window (GeV).")] = None,
    pthat_max: Annotated[float | None, typer.Option(help="Upper edge of the pT-hat window (GeV).")] = None,
    jets_per_event: Annotated[int | None, typer.Option("--jets-per-event", help="Hardest jets of each event that are candidates "
                                                       "(default: the task's; top-tagging 2, jet-classes 1).")] = None,
    per_part: Annotated[int | None, typer.Option("--per-part", "--jets-per-part", help="Records (jets, or events) per Parquet part file (default: the task's; 500 for the collider tasks).")] = None,
    scheme: Annotated[str | None, typer.Option(help="Sample scheme of higgs-tautau: weighted (the default: forced "
                                                     "decays, slices) or inclusive.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate (or finish) a task's labelled dataset and print its summary."""
    from hepdl import data, tasks
    from hepdl.data.generate import default_dataset_dir

    given = dict(sqrt_s=sqrt_s, pt_min=pt_min, pt_max=pt_max, pthat_min=pthat_min, pthat_max=pthat_max, mpi=mpi,
                 jets_per_event=jets_per_event, detector=detector, pileup_mu=pileup, per_part=per_part, scheme=scheme)
    kwargs = dict(seed=seed, **{k: v for k, v in given.items() if v is not None})
    spec_fn = tasks.get(task).dataset_spec
    import inspect

    from hepdl.errors import ConfigError

    takes = inspect.signature(spec_fn).parameters
    unknown = [k for k in kwargs if k not in takes]
    if unknown:
        opts = ", ".join("--" + k.replace("_", "-").replace("pileup-mu", "pileup") for k in unknown)
        raise ConfigError(f"task {task!r} has no option {opts}: its dataset takes {', '.join(k for k in takes if k not in ('n_jets', 'n_events'))}")
    spec = spec_fn(n_jets, **kwargs) if n_jets is not None else spec_fn(**kwargs)
    if out is None:
        out = default_dataset_dir(spec, cache)
    path = data.generate_dataset(spec, out, workers=workers, scheduler=scheduler, progress=not quiet)
    typer.echo(data.open(path).summary())
    typer.echo(f"dataset written to {path}")


@app.command("run")
def run_task(
    task: Annotated[str, typer.Argument(help="Task to run end to end: top-tagging, jet-classes, higgs-tautau, air-showers, unfolding.")],
    preset: Annotated[str, typer.Option(help="quick (2 CPU cores, minutes) or paper (published sizes, GPU).")] = "quick",
    models: Annotated[str | None, typer.Option(help="Comma-separated model names (default: the preset's).")] = None,
    data: Annotated[Path | None, typer.Option(help="Use this dataset instead of generating one.")] = None,
    runs: Annotated[Path, typer.Option(help="Directory for runs.")] = Path("runs"),
    epochs: Annotated[int | None, typer.Option(help="Override the preset's epochs.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes for generation.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Cache directory.")] = None,
) -> None:
    """Generate (or reuse) the data, train every model, evaluate, and write the report."""
    from hepdl import tasks
    from hepdl.errors import UnknownNameError

    t = tasks.get(task)
    if t.run is None:
        raise UnknownNameError("runnable task", task, [n for n in tasks.list_tasks() if tasks.get(n).run is not None])
    out = t.run(preset, models=models.split(",") if models else None, dataset=data, runs_dir=runs, cache=cache,
              workers=workers, epochs=epochs)
    typer.echo((out / "table.txt").read_text())
    typer.echo(f"report: {out / 'report.html'}")


@app.command("train")
def train_cmd(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="Dataset (any format hepdl.data.open reads).")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model name (see `hepdl list`); or give --config.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file of training settings (keys of hepdl.train.TrainConfig); "
                                                "options given on the command line override it.")] = None,
    objective: Annotated[str | None, typer.Option(help="classify, regress or reconstruct (default: the model's).")] = None,
    out: Annotated[Path, typer.Option(help="Run directory for this model.")] = Path("runs/train"),
    preset: Annotated[str, typer.Option(help="Model configuration: small or paper.")] = "small",
    epochs: Annotated[int, typer.Option(help="Maximum epochs.")] = 10,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate (AdamW).")] = 1e-3,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    resume: Annotated[Path | None, typer.Option(help="Checkpoint to resume from.")] = None,
    representation: Annotated[str | None, typer.Option(help="Check that the model takes this representation.")] = None,
    feature_set: Annotated[str, typer.Option(help="Feature set of dnn/bdt/cut models (see `hepdl list`).")] = "expert",
    devices: Annotated[str, typer.Option(help="Devices for Lightning (auto, 1, 4, ...): DDP on several GPUs.")] = "auto",
    num_nodes: Annotated[int, typer.Option(help="Nodes for multi-node DDP.")] = 1,
    n_train: Annotated[int | None, typer.Option(help="Train on this many jets of the training split (a seeded, class-stratified "
                                                     "subset; validation and test unchanged): a learning-curve point.")] = None,
    stream: Annotated[bool | None, typer.Option("--stream/--no-stream", help="Read the dataset a part (or 5000 rows) at a "
                                                "time, never all of it in memory (default: above 500 000 jets).")] = None,
    stream_window: Annotated[int | None, typer.Option(help="Streaming: training jets shuffled together and held in "
                                                      "memory (default 20000).")] = None,
    stream_workers: Annotated[int | None, typer.Option(help="Streaming: processes that read parts and build batches "
                                                       "while the model trains (default 0: in the training process).")] = None,
    mapping: MappingOpt = None,
    tree: TreeOpt = None,
    key: KeyOpt = None,
) -> None:
    """Train one model (torch, BDT or cut) and evaluate it on the test split. The model trains in
    OUT.partial, which replaces OUT only when complete; an interrupted training resumes with
    --resume OUT.partial/last.ckpt."""
    from hepdl.config import from_dict
    from hepdl.errors import ConfigError
    from hepdl.train import TrainConfig, train

    dev: str | int = int(devices) if devices.lstrip("-").isdigit() else devices
    flags = dict(model=model, preset=preset, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, objective=objective,
                 representation=representation, devices=dev, num_nodes=num_nodes, feature_set=feature_set, n_train=n_train,
                 stream=stream, stream_window=stream_window, stream_workers=stream_workers)
    if config is not None:
        import tomllib

        try:
            settings = tomllib.loads(config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {config} cannot be read as TOML: {' '.join(str(exc).split())}") from None
        # what the user typed overrides the file (compared by name: typer may bundle its own click)
        given = {k: v for k, v in flags.items() if getattr(ctx.get_parameter_source(k), "name", None) in ("COMMANDLINE", "ENVIRONMENT")}
        if "model" not in settings and model is None:
            raise ConfigError(f"config file {config} names no model: add model = \"...\" or give --model")
        cfg = from_dict(TrainConfig, {**settings, **given}, where=str(config))
    else:
        if model is None:
            raise ConfigError("say which model to train: --model NAME (see `hepdl list`) or --config FILE")
        cfg = TrainConfig(**{k: v for k, v in flags.items() if v is not None})  # type: ignore[arg-type]
    model = cfg.model
    from hepdl.train import run_split

    ds = _open(data, mapping, tree, key, cfg.stream)

    if run_split(ds, cfg)[1] == "dataset":
        typer.echo(f"split: the dataset's own (for a challenge CSV its KaggleSet column: t train, b validation, "
                   f"v test, u unused), not the seeded {cfg.fractions} split")
    m = train(cfg, ds, out, resume=resume)
    if not m:  # a further process of a DDP training: rank 0 reports
        return
    if m.get("objective", "classify") != "classify":
        figures = [f"{k} {v['value']:.4g} ± {v['error']:.2g}" for k, v in m.items() if isinstance(v, dict) and "value" in v]
        typer.echo(f"{model} ({m['objective']}): {', '.join(figures)}; written to {out}")
        return
    if "auc_per_class" in m:
        per = ", ".join(f"{c} {v['value']:.3f}" for c, v in m["auc_per_class"].items())
        typer.echo(f"{model}: accuracy {m['accuracy']['value']:.4f}, macro AUC {m['auc']['value']:.4f} (per class: {per}); "
                   f"written to {out}")
        return
    from hepdl.report.page import cell

    typer.echo(f"{model}: AUC {m['auc']['value']:.4f} ± {m['auc']['error']:.4f}, "
               f"1/eps_B@0.3 {cell(m, 'rej_at_0.3', 1).text}, 1/eps_B@0.5 {cell(m, 'rej_at_0.5', 1).text}; written to {out}")


@app.command()
def evaluate(run: Annotated[Path, typer.Argument(help="Run directory (runs/<task>/<timestamp>).")]) -> None:
    """Recompute the test metrics of every model in a run and rewrite its report."""
    from hepdl.report import rewrite_report
    from hepdl.train import evaluate as _evaluate

    _evaluate(run)
    page = rewrite_report(run)
    blocks = (page.parent / "table.txt").read_text(encoding="utf-8").split("\n\n")
    typer.echo(next((b for b in blocks if b.startswith("model")), blocks[0]).rstrip())  # the results table


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="Run directory (runs/<task>/<timestamp>).")],
    pdf: Annotated[bool, typer.Option("--pdf", help="Also write report.pdf with every figure.")] = False,
) -> None:
    """Rebuild a run's report page (and figures) from its stored outputs, without retraining."""
    from hepdl.report import rewrite_report

    page = rewrite_report(run, pdf=pdf)
    typer.echo(f"report: {page}" + (f"\nall figures: {page.parent / 'report.pdf'}" if pdf else ""))


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="Run directory, or one model's directory.")],
    data: Annotated[Path, typer.Option(help="Jets to score (any format hepdl.data.open reads).")],
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .root.")],
    models: Annotated[str | None, typer.Option(help="Comma-separated models (default: all in the run).")] = None,
    stream: Annotated[bool | None, typer.Option("--stream/--no-stream", help="Read a generated dataset a part at a time "
                                                "(default: above 500 000 jets).")] = None,
    mapping: MappingOpt = None,
    tree: TreeOpt = None,
    key: KeyOpt = None,
) -> None:
    """Score jets with the run's models; write one column per model (score_<model>; for a multi-class model
    one per class, score_<model>_<class>) plus label."""
    import numpy as np

    from hepdl.errors import ConfigError
    from hepdl.train import predict as _predict

    if out.suffix not in (".parquet", ".root"):
        raise ConfigError(f"output {out} must end in .parquet or .root")
    ds = _open(data, mapping, tree, key, stream)
    scores = _predict(run, ds, models=models.split(",") if models else None)
    cols = {}
    for k, v in scores.items():
        key = f"score_{k.replace('-', '_')}"
        if v.ndim == 1:
            cols[key] = v
        else:
            names = ds.label_names if len(ds.label_names) == v.shape[1] else [str(i) for i in range(v.shape[1])]
            cols.update({f"{key}_{c.replace('-', '_')}": v[:, i] for i, c in enumerate(names)})
    cols["label"] = ds.labels.astype(np.int32)
    from hepdl.data.paths import atomic_write, ensure_writable_dir

    ensure_writable_dir(out.parent)
    if out.suffix == ".parquet":
        import pandas as pd

        atomic_write(out, lambda tmp: pd.DataFrame(cols).to_parquet(tmp, index=False))
    else:
        import uproot

        def write_root(tmp: Path) -> None:
            with uproot.recreate(tmp) as f:
                f.mktree("scores", {k: v.dtype for k, v in cols.items()})
                f["scores"].extend(cols)

        atomic_write(out, write_root)
    typer.echo(f"wrote {len(ds)} jets x {len(scores)} models to {out}")


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run directory, or one model's directory.")],
    format: Annotated[str, typer.Option("--format", "-f", help="onnx or hls4ml.")] = "onnx",  # noqa: A002
    model: Annotated[str | None, typer.Option(help="Model of the run to export (needed if it holds several).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default <model>/export/<format>).")] = None,
    precision: Annotated[str, typer.Option(help="hls4ml fixed-point precision ap_fixed<W,I>.")] = "ap_fixed<16,6>",
    scan: Annotated[str | None, typer.Option(help="hls4ml: comma-separated total bit widths to scan, e.g. 8,10,12,14,16,18.")] = None,
    integer_bits: Annotated[int, typer.Option(help="hls4ml scan: integer bits I of ap_fixed<W,I>.")] = 6,
    reuse_factor: Annotated[int, typer.Option(help="hls4ml reuse factor (1: fully parallel).")] = 1,
) -> None:
    """Export a trained model: ONNX (model.onnx + preprocess.json, checked against torch) or hls4ml
    (fixed-point C++ emulation compiled with g++, compared with the float model on the test split)."""
    from hepdl.errors import ConfigError
    from hepdl.train.trainer import model_dir

    d = model_dir(run, model)
    if format == "onnx":
        from hepdl.deploy import export_onnx

        path = export_onnx(d, out)
        import json

        chk = json.loads((path / "preprocess.json").read_text())["check"]
        typer.echo(f"wrote {path / 'model.onnx'} and {path / 'preprocess.json'}; onnxruntime agrees with torch on "
                   f"{chk['inputs']}: max |diff| {chk['max_abs_diff']:.2g} (tolerance {chk['tolerance']:g})")
        return
    if format != "hls4ml":
        raise ConfigError(f"unknown export format {format!r}; known: onnx, hls4ml")
    from hepdl.data.paths import atomic_write_json
    from hepdl.deploy.hls import convert_hls4ml, hls_agreement, precision_scan, split_inputs

    x, y = split_inputs(d)
    base = out or d / "export" / "hls4ml"
    model_obj = convert_hls4ml(d, None if out is None else base / "project", precision=precision, reuse_factor=reuse_factor)
    res = hls_agreement(d, x, y, hls_model=model_obj, precision=precision)
    rows = [res]
    if scan:
        widths = tuple(int(w) for w in scan.split(","))
        rows = precision_scan(d, x, y, widths=widths, integer_bits=integer_bits, out=base / "scan")
    Path(base).mkdir(parents=True, exist_ok=True)
    atomic_write_json(Path(base) / "hls4ml.json", {"default": res, "scan": rows if scan else []})
    typer.echo(f"{'precision':<18}{'argmax agreement':>18}{'max |dlogit|':>14}{'max |dp|':>10}{'acc fixed':>11}{'acc float':>11}")
    for r in rows if scan else [res]:
        typer.echo(f"{r['precision']:<18}{r['argmax_agreement']:>18.4f}{r['max_abs_diff_logit']:>14.4g}"
                   f"{r['max_abs_diff_prob']:>10.3g}{r.get('accuracy_fixed', float('nan')):>11.4f}{r.get('accuracy_float', float('nan')):>11.4f}")
    typer.echo(f"hls4ml project and emulation in {base}; figures in {Path(base) / 'hls4ml.json'}")


@app.command()
def trigger(
    run: Annotated[Path, typer.Argument(help="Run directory, one model's directory, or an ONNX export directory.")],
    data: Annotated[Path, typer.Option(help="The stream of jets (any format hepdl.data.open reads).")],
    out: Annotated[Path, typer.Option(help="Output directory for accepted jets and the rate table.")] = Path("trigger-out"),
    rate: Annotated[float | None, typer.Option(help="Target output rate in Hz (e.g. 1e5).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Fixed threshold on the trigger score instead of a rate.")] = None,
    input_rate: Annotated[float, typer.Option(help="Input rate in Hz.")] = 40e6,
    signal: Annotated[str | None, typer.Option(help="Comma-separated classes whose probabilities form the score.")] = None,
    model: Annotated[str | None, typer.Option(help="Model of the run to use.")] = None,
    batch_size: Annotated[int, typer.Option(help="Jets per batch (one accepted file each).")] = 10_000,
    mapping: MappingOpt = None,
    tree: TreeOpt = None,
    key: KeyOpt = None,
) -> None:
    """Emulate a trigger: accept jets above a threshold set by a target rate; write the accepted jets
    (atomically, batch by batch) and the table of rate reduction and efficiency per class."""
    from hepdl.deploy.trigger import TriggerConfig, run_trigger, trigger_table

    if rate is None and threshold is None:
        rate = 1e5
    cfg = TriggerConfig(rate_hz=rate, threshold=threshold, input_rate_hz=input_rate,
                        signal=tuple(signal.split(",")) if signal else None, batch_size=batch_size, model=model)
    summary = run_trigger(run, _open(data, mapping, tree, key) if (mapping or tree or key) else data, out, cfg)
    typer.echo(trigger_table(summary), nl=False)
    typer.echo(f"accepted jets written to {out}")


@app.command()
def explain(
    run: Annotated[Path, typer.Argument(help="Run directory (runs/<task>/<timestamp>).")],
    models: Annotated[str | None, typer.Option(help="Comma-separated model names (default: all of the run's).")] = None,
    jets: Annotated[int, typer.Option("--jets", help="Test jets to explain on (a seeded subset).")] = 5000,
    search: Annotated[bool, typer.Option("--search", help="Map each network onto observables (EFPs up to degree 7; arXiv:2010.11998).")] = False,
    search_jets: Annotated[int, typer.Option("--search-jets", help="Test jets for the observable search.")] = 20000,
    efp_variants: Annotated[str, typer.Option("--efp-variants", help="(kappa:beta) of the EFPs of the search basis, e.g. "
                                              "1:1,2:1,1:0.5; kappa != 1 is IRC-unsafe and flagged.")] = "1:1",
) -> None:
    """What the run's models learned: relevance propagation through the networks, the average decision
    ordering of each model with the physicist's observables and with each other, permutation importances,
    the BDT's Tree-SHAP values, and with --search the observables that reproduce each network. Writes
    RUN/explain/ (explain.json, explain.npz, explain.html and its figures)."""
    import json

    from hepdl.errors import ConfigError
    from hepdl.explain import explain_run
    from hepdl.explain.run import closest_observable

    if jets < 2 or search_jets < 100:
        raise ConfigError(f"--jets must be at least 2 and --search-jets at least 100, got {jets} and {search_jets}")
    try:
        variants = tuple((float(k), float(b)) for k, b in (v.split(":") for v in efp_variants.split(",")))
    except ValueError:
        raise ConfigError(f"--efp-variants takes kappa:beta pairs separated by commas (e.g. 1:1,2:1), got {efp_variants!r}") from None
    path = explain_run(run, models=models.split(",") if models else None, n_jets=jets, search=search, search_jets=search_jets,
                       efp_variants=variants)
    out = json.loads(path.read_text())
    for name, m in out["models"].items():
        line = f"{name}:"
        best = closest_observable(m)
        if best:
            line += f" orders pairs most like {best[0]} (ADO {best[1]:.3f})"
        top = (m.get("permutation_importance") or [{}])[0].get("feature") or ((m.get("lrp") or {}).get("features") or [{}])[0].get("feature")
        if top:
            line += f"; most important input {top}"
        if m.get("note"):
            line += f" ({m['note']})"
        typer.echo(line)
    for res in out.get("search", {}).get("networks", {}).values():
        typer.echo(res["sentence"])
    typer.echo(f"written to {path}")


@app.command()
def info(path: Annotated[Path, typer.Argument(help="Dataset directory or file (.parquet, .h5, .root, challenge .csv).")],
         mapping: MappingOpt = None, tree: TreeOpt = None, key: KeyOpt = None) -> None:
    """Print a dataset's summary: counts, class balance, cutflow, settings."""
    typer.echo(_open(path, mapping, tree, key).summary())


@app.command()
def features(
    path: Annotated[Path, typer.Argument(help="Dataset directory or file.")],
    set_name: Annotated[str, typer.Option("--set", "-s", help="Feature set: kinematics, nsub, hls4ml, expert, efp.")] = "expert",
    mapping: MappingOpt = None,
    tree: TreeOpt = None,
    key: KeyOpt = None,
) -> None:
    """Build (or reuse the cached) feature set for a dataset and print a per-class summary."""
    from hepdl.features import build_features

    ds = _open(path, mapping, tree, key)
    df = build_features(ds, set_name)
    names = ds.label_names or [str(i) for i in sorted(df["label"].unique())]
    typer.echo(f"feature set {set_name!r}: {len(df)} jets x {df.shape[1] - 1} features")
    cols = [c for c in df.columns if c != "label"][:20]
    typer.echo(f"  {'median':<14}" + "".join(f"{n:>12}" for n in names))
    for c in cols:
        meds = [df.loc[df['label'] == i, c].median() for i in range(len(names))]
        typer.echo(f"  {c:<14}" + "".join(f"{m:>12.4g}" for m in meds))


@app.command("csv")
def csv_cmd(
    data: Annotated[Path, typer.Argument(help="Event dataset (generated directory or challenge CSV file).")],
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="kaggle (training.csv layout) or opendata (atlas-higgs-challenge-2014-v2.csv).")] = "kaggle",
) -> None:
    """Write an event dataset in the CSV layout of the Higgs machine-learning challenge."""
    from hepdl.tasks.higgs_tautau import export_csv

    typer.echo(f"wrote {export_csv(data, out, fmt)}")


@app.command("list")
def list_() -> None:
    """List the registered tasks, physics processes and detector cards."""
    from hepdl import sim, tasks

    typer.echo("tasks:")
    for name in tasks.list_tasks():
        typer.echo(f"  {name:<16} {tasks.get(name).description}")
    typer.echo("processes:")
    for name in sim.list_processes():
        typer.echo(f"  {name:<16} {sim.get_process(name).description}")
    typer.echo(f"detector cards: {', '.join(sim.known_cards())}")
    from hepdl.models import list_models
    from hepdl.train import BASELINES

    typer.echo(f"models: {', '.join(sorted(list_models() + list(BASELINES)))}")
    from hepdl.features import FEATURE_SETS

    typer.echo("feature sets:")
    for name, (_, desc) in sorted(FEATURE_SETS.items()):
        typer.echo(f"  {name:<16} {desc}")


def _exit_code() -> int:
    """Run the app; the exit status it asks for (typer returns it in non-standalone mode, e.g. 130
    for a KeyboardInterrupt it caught)."""
    try:
        rv = app(standalone_mode=False, prog_name="hepdl")
    except HepdlError as exc:
        typer.secho(f"error: {' '.join(str(exc).split())}", err=True, fg=typer.colors.RED)
        return 2
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # Lightning exits 1 on a KeyboardInterrupt it caught
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        if _is_usage_error(exc):  # an unknown command or option, a missing or malformed value
            _show_usage_error(exc)
            return int(getattr(exc, "exit_code", 2))
        if type(exc).__name__ == "Abort":
            return 1
        raise
    return rv if isinstance(rv, int) else 0


def _is_usage_error(exc: BaseException) -> bool:
    """A click exception, whichever click raised it: typer >= 0.24 bundles its own click, whose
    exceptions are not ``click.ClickException``; both carry ``exit_code``, ``format_message`` and ``show``."""
    return all(hasattr(exc, a) for a in ("exit_code", "format_message", "show"))


def _show_usage_error(exc: Any) -> None:
    """One line naming what is wrong and the command, then the usage hint (stderr)."""
    ctx = getattr(exc, "ctx", None)
    message = " ".join(str(exc.format_message()).split())
    where = f" ({ctx.command_path})" if ctx is not None else ""
    typer.secho(f"error: {message}{where}", err=True, fg=typer.colors.RED)
    if ctx is not None:
        typer.echo(f"{' '.join(ctx.get_usage().split())}; try '{ctx.command_path} --help'", err=True)


def main() -> None:
    """Entry point: run the app; hepdl's errors become one clear line and exit status 2; Ctrl-C
    (SIGINT) exits 130 with one line saying what was kept and how to resume."""
    import signal

    from hepdl._util import interrupted, sigint_handler

    signal.signal(signal.SIGINT, sigint_handler)
    code = _exit_code()
    note = interrupted()
    if note is not None or code == 130:
        typer.echo(f"interrupted: {note or 'nothing was written'}", err=True)
        sys.exit(130)
    sys.exit(code)


if __name__ == "__main__":
    main()

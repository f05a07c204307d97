"""Command line: ``python -m apr {synth,info,download,train,extract,export,book} ...``.

Every subcommand is a function ``cmd_<name>(args) -> int``; :func:`main` parses, runs, and
turns any error into one line on stderr and a non-zero exit (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def cmd_synth(args: argparse.Namespace) -> int:
    """``apr synth``: generate a synthetic set in the Market-1501 (or DukeMTMC-reID) layout."""
    from .data.synthetic import SynthConfig, generate_synthetic

    cameras = args.cameras if args.cameras is not None else (8 if args.layout == "dukemtmc" else 6)
    extras = {"junk_per_test_id": 0.0, "distractors_per_test_id": 0.0} if args.layout == "dukemtmc" else {}
    config = SynthConfig(
        num_train_ids=args.train_ids, num_test_ids=args.test_ids, num_cameras=cameras,
        max_images_per_camera=args.max_images_per_camera, seed=args.seed, attribute_source=args.attributes, **extras,
    )
    manifest = generate_synthetic(args.out, config, layout=args.layout, data_root=args.data_root,
                                  progress=not args.quiet)
    counts = manifest["counts"]
    print(f"wrote {sum(counts.values())} images to {args.out} in {manifest['seconds']:.1f} s "
          f"({', '.join(f'{k} {v}' for k, v in counts.items())}); attributes: {manifest['attribute_source']}")
    return 0


def format_summary(name: str, root: Path, summary: dict[str, dict[str, int]]) -> str:
    """The per-split table printed by ``apr info``."""
    lines = [f"{name} at {root}", f"  {'split':<8} {'images':>8} {'ids':>6} {'cameras':>8}"]
    for split, row in summary.items():
        lines.append(f"  {split:<8} {row['images']:>8,} {row['ids']:>6,} {row['cameras']:>8}")
    return "\n".join(lines)


def cmd_info(args: argparse.Namespace) -> int:
    """``apr info``: a dataset's splits; for a custom dataset file, first every problem the check finds."""
    from .data.datasets import load_dataset

    if args.dataset == "custom":
        if args.dataset_file is None:
            raise ValueError("--dataset custom needs --dataset-file: the CSV file that lists its images")
        data = check_dataset_file(args.dataset, args.dataset_file)
    else:
        data = load_dataset(args.dataset, args.root, attributes=False, data_root=args.data_root, seed=args.seed)
    summary = data.summary()
    print(json.dumps(summary) if args.json else format_summary(args.dataset, data.root, summary))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """``apr download``: fetch the released attribute annotation files, each checked against its sha256."""
    from .data.download import download_annotations
    from .data.paths import WORK_ROOT

    dest = Path(args.dest) if args.dest else WORK_ROOT / "data"
    for path in download_annotations(dest, args.only):
        print(f"ok {path}")
    return 0


def train_config(args: argparse.Namespace):
    """The run configuration: a preset (``--scale``, else the config file's ``scale``, else quick), then the config
    file's settings, the named options and the ``--set`` pairs, each overriding the one before."""
    from .config import from_params, parse_overrides, read_config_file

    settings = read_config_file(args.config) if args.config else {}
    scale = args.scale or settings.pop("scale", None) or "quick"
    settings.pop("scale", None)
    named = {"dataset": args.dataset, "dataset_file": args.dataset_file, "data_root": args.data_root,
             "variant": args.variant, "backbone": args.backbone,
             "image_size": args.image_size, "epochs": args.epochs, "lambda_id": args.lambda_id, "seed": args.seed,
             "train_seed": args.train_seed,
             "device": args.device, "batch_size": args.batch_size, "data_path": args.data_path}
    overrides = settings | {k: v for k, v in named.items() if v is not None}
    overrides.update(parse_overrides(args.set or []))
    return from_params(scale, **overrides)


def check_dataset_file(dataset: str, dataset_file: str | Path | None):
    """Before any training: a custom dataset file and its images' headers checked in one pass, its warnings and
    what was inferred printed, and one error listing every problem when it has any
    (:func:`apr.data.custom.check_custom`). Returns the dataset (None for any other dataset)."""
    if dataset != "custom" or dataset_file is None:
        return None
    from .data.custom import check_custom

    check = check_custom(dataset_file)
    if check.report() and not check.errors:
        print(check.report(), file=sys.stderr)
    return check.raise_if_errors()


def cmd_train(args: argparse.Namespace) -> int:
    """``apr train``: train one model (resumable; under torchrun, one process per GPU) and evaluate it."""
    import torch.distributed as dist

    from .engine.device import resolve_device
    from .engine.evaluate import evaluate_run
    from .engine.run_data import load_training_data
    from .engine.runs import RUNS
    from .engine.store import initial_backbone
    from .engine.train import fit
    from .model import imagenet_state_dict

    config = train_config(args)
    if args.print_config:
        from .config import config_to_toml

        print(config_to_toml(config, origin="these options"), end="")
        return 0
    if os.environ.get("RANK", "0") == "0":
        check_dataset_file(config.dataset, config.dataset_file)
    run_dir = Path(args.out) if args.out else RUNS / f"{config.variant}-{config.key()}"
    # The data is read once, before any work: a wrong data root or missing weights fail here.
    first = os.environ.get("RANK", "0") == "0"      # under torchrun, one process shows progress
    training = load_training_data(config, resolve_device(config.device, int(os.environ.get("LOCAL_RANK", "0"))),
                                  decode=config.data_path == "decoded", progress=not args.quiet and first)
    if config.pretrained == "imagenet":
        imagenet_state_dict(config.backbone)
    result = fit(config, run_dir, resume=args.resume, progress=not args.quiet, training=training,
                 backbone_weights=initial_backbone(config))
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        print(f"run folder: {run_dir} (train {result.info['timings']['train_s']:.1f} s, "
              f"{result.info['initialisation']})")
        if not args.no_eval:
            metrics = evaluate_run(run_dir, device=config.device, progress=not args.quiet, training=training)
            print(format_metrics(metrics))
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


def format_metrics(metrics: dict) -> str:
    """One line of re-ID metrics (none for an attribute-only dataset), then attribute accuracy per group and the
    attribute-recognition field's mA and instance metrics when there are attributes."""
    line = (f"rank-1 {metrics['rank1']:.2%}  rank-5 {metrics['rank5']:.2%}  rank-10 {metrics['rank10']:.2%}  "
            f"mAP {metrics['mAP']:.2%} (step AP {metrics['mAP_step']:.2%})"
            + (f"  mINP {metrics['mINP']:.2%}" if "mINP" in metrics else "")
            ) if "rank1" in metrics else "no re-ID queries"
    acc = metrics.get("attribute_accuracy")
    if acc:
        # n/a: no labelled test image, or only one class among them (accuracy undefined)
        line += "\nattribute accuracy: " + "  ".join(f"{k} {v:.1%}" if v == v and v is not None else f"{k} n/a"
                                                     for k, v in acc.items())
    field = metrics.get("attribute_metrics")
    if field:
        line += (f"\nattribute recognition (every class a binary attribute, positive above {field['threshold']}): "
                 f"mA {field['mA']:.1%}  instance accuracy {field['accuracy']:.1%}  precision {field['precision']:.1%}"
                 f"  recall {field['recall']:.1%}  F1 {field['F1']:.1%} (of the means; mean of images' F1 "
                 f"{field['F1_mean']:.1%})")
    return line


def cmd_extract(args: argparse.Namespace) -> int:
    """``apr extract``: evaluate a trained run on its test split, or embed a folder of your own images."""
    if args.images is not None or args.out is not None:
        return extract_images(args)
    from .engine.evaluate import evaluate_run
    from .engine.runs import changed_data, load_run

    changed = changed_data(args.run_dir, load_run(args.run_dir))
    if changed:
        print(f"warning: {changed}; the metrics below score the edited data", file=sys.stderr)
    metrics = evaluate_run(args.run_dir, device=args.device, progress=not args.quiet)
    print(f"features written to {Path(args.run_dir) / 'features.pt'}")
    print(format_metrics(metrics))
    return 0


def extract_images(args: argparse.Namespace) -> int:
    """``apr extract RUN --images DIR_OR_GLOB --out feats.npz``: the run as a feature extractor."""
    from .engine.extractor import Extractor

    if args.images is None or args.out is None:
        raise ValueError("--images and --out go together: apr extract RUN --images DIR_OR_GLOB --out feats.npz")
    if not str(args.out).endswith(".npz"):
        raise ValueError(f"--out '{args.out}': expected a file name ending in .npz")
    files = _images_of(args.images, "--images")
    extractor = Extractor.from_run(args.run_dir, device=args.device, batch_size=args.batch_size)
    out = extractor(files, progress=not args.quiet)
    path = out.save(args.out)
    names = ", ".join(out.attributes) or "none (an IDE run)"
    print(f"{len(files)} images -> {path}: features {out.features.shape[1]}-d ({extractor.config.test_feature}), "
          f"pool5 {out.pool5.shape[1]}-d, attribute probabilities: {names}")
    return 0


def _images_of(pattern: str, what: str) -> list[Path]:
    """The image files of a folder or glob, saying on stderr how many other files were left out."""
    from .engine.extractor import image_files

    skipped: list[Path] = []
    files = image_files(pattern, skipped, option=what)
    if skipped:
        shown = ", ".join(f"'{f}'" for f in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        print(f"{what}: skipped {len(skipped)} files that are not in an image format PIL opens: {shown}",
              file=sys.stderr)
    return files


def cmd_search(args: argparse.Namespace) -> int:
    """``apr search`` / ``apr rank``: a gallery folder ranked for query images and/or filtered by predicted
    attributes; a table on stdout, ranked.csv and ranked.html in --out."""
    from .engine.extractor import Extractor
    from .engine.search import attribute_classes, parse_where, ranked, ranked_page

    extractor = Extractor.from_run(args.run_dir, device=args.device)
    classes = attribute_classes(extractor)
    where = parse_where(args.where, classes) if args.where else {}
    if where and not classes:
        raise ValueError(f"'{args.run_dir}' predicts no attributes (an IDE run): --where needs APR or ARN")
    queries = extractor(_images_of(args.query, "--query"), progress=not args.quiet) if args.query else None
    gallery = extractor(_images_of(args.gallery, "--gallery"), progress=not args.quiet)
    table = ranked(queries, gallery, where=where, min_confidence=args.min_confidence, top=args.top,
                   rerank=args.rerank, classes=classes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ranked.csv", index=False)
    how = ("k-reciprocal re-ranked distance" if args.rerank else "squared Euclidean distance of the test features")
    title = (f"{'Ranked by ' + how if queries is not None else 'Most confident hits'}"
             f"{' among ' + ' '.join(args.where) if args.where else ''}")
    page = ranked_page(table, out / "ranked.html", title)
    with _wide_tables():
        print(table.drop(columns="attributes").to_string(index=False) if len(table) else "no gallery image meets the "
              "conditions")
    print(f"{len(table)} rows -> {out / 'ranked.csv'} and {page} ({how if queries is not None else 'no query'}; "
          f"{int(len(gallery.features))} gallery images)")
    return 0


def _wide_tables():
    """Wide tables on a terminal: no column wrapping."""
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_colwidth", 60)


def cmd_config(args: argparse.Namespace) -> int:
    """``apr config RUN``: a run's configuration as a TOML file to edit and train from (``apr train --config``)."""
    from .config import config_from_dict, config_to_toml
    from .engine.runs import load_run

    info = load_run(args.run_dir)
    print(config_to_toml(config_from_dict(info["config"]), origin=f"'{args.run_dir}'"), end="")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``apr export``: write a trained run as an ONNX model."""
    from .engine.export import export_onnx

    path = export_onnx(args.run_dir, args.onnx, opset=args.opset)
    print(f"ONNX model written to {path} (input 'images': (B, 3, H, W) normalised; outputs 'features', 'pool5', "
          "'attr_<name>')")
    return 0


BOOK_OPTIONS = ("dataset", "dataset_file", "data_root", "scale", "device", "seed", "seeds", "reading", "epochs",
                "ablation_seeds", "leave_one_out", "gallery_multiple")


EXECUTION_OPTIONS = ("executor", "jobs_per_gpu", "partition", "gpus_per_job", "timeout_min", "slurm_jobs")


def cmd_book(args: argparse.Namespace) -> int:
    """``apr book``: train what the book needs, run its chapters, build the HTML."""
    from .book.build import build_book
    from .experiments.execution import SLURM_ONLY, Execution
    from .experiments.parameters import BookParameters

    # The options' own words for what Execution checks too (it names its fields, the user typed flags).
    slurm_only = [f"--{n.replace('_', '-')}" for n in SLURM_ONLY if getattr(args, n) is not None]
    if slurm_only and args.executor != "slurm":
        raise ValueError(f"{', '.join(slurm_only)} set Slurm jobs: give --executor slurm with them")
    for name in ("jobs_per_gpu", "gpus_per_job", "timeout_min", "slurm_jobs"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "gpus_per_job" else 1):
            raise ValueError(f"--{name.replace('_', '-')}={value}: expected a positive number")
    given_execution = {name: getattr(args, name) for name in EXECUTION_OPTIONS if getattr(args, name) is not None}
    execution = Execution(**given_execution)
    given = {name: getattr(args, name) for name in BOOK_OPTIONS if getattr(args, name) is not None}
    check_dataset_file(args.dataset or "", args.dataset_file)
    index = build_book(BookParameters(**given, execution=execution), html=not args.no_html)
    print(f"book built: {index}" if not args.no_html else "chapters executed into book/_generated/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m apr`` parser: one subcommand per task; its defaults come from the settings' own homes."""
    from .config import DEVICE_CHOICES
    from .experiments.parameters import DEFAULT_ABLATION_SEEDS, READINGS, BookParameters

    book_default = BookParameters()

    parser = argparse.ArgumentParser(prog="python -m apr", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write a synthetic dataset in the Market-1501 (or DukeMTMC-reID) layout")
    synth.add_argument("--layout", default="market1501", choices=["market1501", "dukemtmc"],
                       help="file layout, names and attribute file of the set (default: market1501)")
    synth.add_argument("--out", required=True, help="output folder (must be empty or absent)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    synth.add_argument("--train-ids", type=int, default=150, help="training identities (default: 150)")
    synth.add_argument("--test-ids", type=int, default=150, help="test identities (default: 150)")
    synth.add_argument("--cameras", type=int, default=None,
                       help="number of cameras: 2-6 for Market-1501, 2-8 for DukeMTMC-reID (default: 6 or 8)")
    synth.add_argument("--max-images-per-camera", type=int, default=3,
                       help="images of an identity per camera, at most (default: 3)")
    synth.add_argument("--attributes", default="auto",
                       help="'auto' (the real market_attribute.mat or duke_attribute.mat if found, else the prior), "
                            "'prior', or a .mat path")
    synth.add_argument("--data-root", default=None, help="where to look for the real annotation file")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=cmd_synth)

    info = sub.add_parser("info", help="per-split images / identities / cameras of a dataset")
    info.add_argument("--dataset", required=True,
                      choices=["market1501", "dukemtmc", "peta", "synthetic", "synthetic_duke", "cub200", "custom"])
    info.add_argument("--root", default=None, help="dataset folder or its parent (default: the data root)")
    info.add_argument("--dataset-file", default=None,
                      help="with --dataset custom: the CSV file that lists the images (checked first, every problem "
                           "reported)")
    info.add_argument("--data-root", default=None, help="data root (default: $APR_DATA_ROOT, then ../shared/data)")
    info.add_argument("--seed", type=int, default=0, help="seed of the PETA split (default: 0)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=cmd_info)

    download = sub.add_parser("download", help="fetch the published attribute files (needs the network)")
    download.add_argument("--dest", default=None, help="data root to write into (default: ./data)")
    download.add_argument("--only", nargs="+", default=None,
                          help="market_attribute, gallery_market and/or duke_attribute (default: all)")
    download.set_defaults(func=cmd_download)
    train = sub.add_parser("train", help="train APR or a baseline (torchrun for several processes)")
    train.add_argument("--scale", default=None,
                       help="preset: smoke, quick or paper (default: the config file's scale, else quick)")
    train.add_argument("--config", default=None,
                       help="a TOML (or YAML) file of settings, the keys of --set; options and --set override it")
    train.add_argument("--print-config", action="store_true",
                       help="print the effective settings as a TOML file for --config, and train nothing")
    train.add_argument("--dataset", default=None,
                       help="market1501, dukemtmc, peta, synthetic, synthetic_duke, cub200 (attribute "
                            "recognition only) or custom (your own CSV: --dataset-file) (default: synthetic)")
    train.add_argument("--dataset-file", default=None,
                       help="with --dataset custom: the CSV listing path, pid, camid, split and attribute columns")
    train.add_argument("--data-root", default=None, help="data root (default: $APR_DATA_ROOT, then ../shared/data)")
    train.add_argument("--variant", default=None, help="apr, ide, arn, apr_no_arm, apr_no_attr_loss (default: apr)")
    train.add_argument("--backbone", default=None,
                       help="resnet50, resnet18, mobilenet_v3_small, ... (default: the preset's)")
    train.add_argument("--image-size", default=None, help="HxW, e.g. 256x128 (default: the preset's)")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default: the preset's)")
    train.add_argument("--batch-size", type=int, default=None,
                       help="the global batch, split over torchrun's processes (default: the preset's; "
                            "--set ddp_batch=per_process gives each process this batch)")
    train.add_argument("--lambda", dest="lambda_id", type=float, default=None,
                       help="weight of the ID loss (default: 0.9)")
    train.add_argument("--seed", type=int, default=None,
                       help="data seed: the synthetic set, its pretraining population, PETA's split (default: 0)")
    train.add_argument("--train-seed", type=int, default=None,
                       help="training seed: initialisation, batch order, augmentation, dropout (default: 0)")
    train.add_argument("--device", default=None, help=f"{DEVICE_CHOICES} (default: auto)")
    train.add_argument("--data-path", default=None, help="decoded (default) or loader")
    train.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="any other setting of apr.config.APRConfig")
    train.add_argument("--out", default=None, help="run folder (default: runs/<variant>-<config hash>)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument("--no-eval", action="store_true", help="skip evaluation after training")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_train)

    for name, text in (("search", "gallery images by predicted attributes (--where), optionally ranked for a query"),
                       ("rank", "your query images against a gallery folder: top-k list, CSV and page")):
        search = sub.add_parser(name, help=text)
        search.add_argument("run_dir", help="a trained run folder (APR or ARN for --where)")
        search.add_argument("--gallery", required=True, help="folder (or glob) of gallery images")
        search.add_argument("--query", required=name == "rank", default=None,
                            help="query image, folder or glob" + ("" if name == "rank" else " (optional)"))
        search.add_argument("--where", nargs="*", default=None, metavar="NAME=VALUE",
                            help="keep gallery images predicted so, e.g. gender=female backpack=yes" +
                                 (" (required without --query)" if name == "search" else ""))
        search.add_argument("--min-confidence", type=float, default=0.5,
                            help="the least probability of each --where class (default: 0.5)")
        search.add_argument("--top", type=int, default=10, help="hits per query (default: 10)")
        search.add_argument("--rerank", action="store_true",
                            help="k-reciprocal re-ranking (Zhong et al. 2017; k1=20, k2=6, lambda=0.3)")
        search.add_argument("--out", default=name, help=f"folder for ranked.csv and ranked.html (default: ./{name})")
        search.add_argument("--device", default="auto", help=f"{DEVICE_CHOICES} (default: auto)")
        search.add_argument("--quiet", action="store_true", help="no progress bars")
        search.set_defaults(func=cmd_search)

    config = sub.add_parser("config", help="a run's settings as a TOML file to edit and train from (--config)")
    config.add_argument("run_dir", help="a run folder (with run.json)")
    config.set_defaults(func=cmd_config)

    extract = sub.add_parser("extract", help="features and metrics of a trained run folder, or features of your "
                             "own images (--images)")
    extract.add_argument("run_dir", help="a folder written by `apr train`")
    extract.add_argument("--images", help="a folder of images or a glob pattern: extract these instead of the "
                         "run's test split (needs --out)")
    extract.add_argument("--out", help="the .npz file for --images: features, pool5, attr_<name> probabilities")
    extract.add_argument("--batch-size", type=int, default=None, help="images per batch (default: the run's)")
    extract.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    extract.add_argument("--quiet", action="store_true", help="no progress bars")
    extract.set_defaults(func=cmd_extract)

    export = sub.add_parser("export", help="a trained run folder as an ONNX model")
    export.add_argument("run_dir", help="a folder written by `apr train`")
    export.add_argument("--onnx", required=True, help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=18, help="ONNX opset (default: 18)")
    export.set_defaults(func=cmd_export)

    book = sub.add_parser("book", help="execute every chapter and build the HTML book")
    book.add_argument("--dataset", default=None,
                      choices=["market1501", "dukemtmc", "peta", "synthetic", "synthetic_duke", "custom"],
                      help=f"dataset the chapters use (default: {book_default.dataset}; custom: --dataset-file)")
    book.add_argument("--dataset-file", default=None,
                      help="with --dataset custom: the CSV listing path, pid, camid, split and attribute columns")
    book.add_argument("--data-root", default=None, help="data root (default: $APR_DATA_ROOT, then ../shared/data)")
    book.add_argument("--scale", default=None, help=f"smoke, quick or paper (default: {book_default.scale})")
    book.add_argument("--device", default=None, help=f"{DEVICE_CHOICES} (default: {book_default.device})")
    book.add_argument("--seed", type=int, default=None, help=f"data seed of every run (default: {book_default.seed})")
    book.add_argument("--seeds", type=int, default=None,
                      help="training seeds of Table 1's IDE, ARN and APR, whose comparisons carry intervals over "
                           f"them (default: {book_default.seeds})")
    book.add_argument("--reading", default=None, choices=list(READINGS),
                      help="Eq. 6's attribute term in the book's APR models: mean (as printed) or sum; the headline "
                           f"rows are given for both (default: {book_default.reading})")
    book.add_argument("--epochs", type=int, default=None,
                      help="the fine-tuning schedule of every model (default: the scale's; chapter 02 checks whether "
                           "it has converged)")
    book.add_argument("--ablation-seeds", type=int, default=None,
                      help="training seeds of APR's ablations, of the sweeps' seeded points and of Fig. 8's runs, "
                           f"compared with APR's first runs (default: {DEFAULT_ABLATION_SEEDS}, at most --seeds)")
    book.add_argument("--leave-one-out", default=None, action=argparse.BooleanOptionalAction,
                      help="train Fig. 6's models, one per attribute left out (default: the scale's; the quick "
                           "scale does not)")
    book.add_argument("--gallery-multiple", type=float, default=None,
                      help="Fig. 8's largest gallery as a multiple of the test gallery (default: the scale's; "
                           "26.34 is the paper's Market-1501+500k)")
    book.add_argument("--no-html", action="store_true", help="execute the chapters only")
    book.add_argument("--executor", default=None, choices=["pool", "local", "slurm"],
                      help="where models train: this machine's processes (pool, the default), submitit's local "
                           "subprocesses, or Slurm jobs through submitit (pip install 'apr[slurm]')")
    book.add_argument("--jobs-per-gpu", type=int, default=None, help="models training at once on each GPU (default 1)")
    book.add_argument("--partition", default=None, help="with --executor slurm: the Slurm partition")
    book.add_argument("--gpus-per-job", type=int, default=None, help="with --executor slurm: GPUs per job (default 1)")
    book.add_argument("--timeout-min", type=int, default=None,
                      help="with --executor slurm: a job's time limit in minutes; it is requeued and resumes after "
                           "it (default 240)")
    book.add_argument("--slurm-jobs", type=int, default=None, help="with --executor slurm: jobs at once (default 8)")
    book.set_defaults(func=cmd_book)
    return parser


def torchvision_problem() -> str | None:
    """Why the installed torchvision cannot serve the installed torch (missing, or built for another torch), in a
    line naming the release to install; None when it can. From the packages' metadata alone: nothing is imported.
    torch 2.N pairs with torchvision 0.(N + 15) (2.6 with 0.21, 2.14 with 0.29)."""
    from importlib import metadata

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None                          # pip installs torch with apr; nothing to pair yet
    major, minor = (torch_version.split("+")[0].split(".") + ["0"])[:2]
    if major != "2" or not minor.isdigit():
        return None
    want = f"0.{int(minor) + 15}"
    install = f"pip install 'torchvision=={want}.*'"
    try:
        have = metadata.version("torchvision")
    except metadata.PackageNotFoundError:
        return f"apr needs torchvision, which is not installed: for your torch {torch_version}, {install}"
    if have.split("+")[0].split(".")[:2] != want.split("."):
        return f"torchvision {have} is built for another torch than your {torch_version}: {install}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    problem = torchvision_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for users; --debug for developers
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1

"""The `lpft` command. Input errors are one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from lpft import __version__
from lpft.errors import InputError
from lpft.text import format_table, pct


def _settings(pairs: Sequence[str], flag: str = "--set") -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"{flag} expects key=value, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def trial_json(trial: Any) -> dict[str, Any]:
    r = trial.result
    return {
        "benchmark": trial.benchmark, "strategy": r.strategy, "status": r.status,
        "selected_step": r.selected_step, "final": r.final, "hparams": r.hparams,
        "backbone": trial.backbone, "weights": trial.weights, "device": trial.device,
        "wall_time_s": round(trial.wall_time_s, 3), **({"diagnostics": r.diagnostics} if r.diagnostics else {}),
        "evaluations": [{"step": e.step, "eval_set": e.eval_set, "role": e.role, "accuracy": e.accuracy,
                         "adapt": e.adapt} for e in r.evaluations],
    }


def cmd_run(args: argparse.Namespace) -> int:
    from lpft.results import BN_ADAPTED
    from lpft.trial import run_trial

    trial = run_trial(args.benchmark, args.strategy, _settings(args.set))
    r = trial.result
    if args.save_model:
        import torch

        from lpft.models.saved import save_model

        if not isinstance(r.model, torch.nn.Module):
            raise InputError(f"--save-model: strategy {r.strategy!r} trains no network to save")
        print(f"saved the trained model to {save_model(r.model, args.save_model)}", file=sys.stderr)
    if args.json:
        print(json.dumps(trial_json(trial)))
        return 0
    print(f"lpft run {trial.benchmark} --strategy {r.strategy}: backbone {trial.backbone} "
          f"(weights {trial.weights}) on {trial.device}")
    diagnostics = "".join(f"   {k}: {v:.3g}" if isinstance(v, float) else f"   {k}: {v}"
                          for k, v in r.diagnostics.items())
    print(f"status: {r.status}   selected step: {r.selected_step} (best ID val)   "
          f"wall time: {trial.wall_time_s:.1f} s{diagnostics}")
    for note in trial.notes:
        print(f"note: {note}")
    roles = {e.eval_set: e.role for e in r.evaluations}
    adapted = r.accuracies(r.selected_step, BN_ADAPTED) if r.selected_step is not None else {}
    head = ["eval set", "role", "accuracy %"] + (["bn-adapted %"] if adapted else [])
    print(format_table(head, [[k, roles[k], pct(v)] + ([pct(adapted.get(k))] if adapted else [])
                              for k, v in r.final.items()]))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from lpft.sweeps import load_spec

    if args.list:
        from lpft.catalog_cli import spec_rows

        print(format_table(["spec", "what it is"], spec_rows(), left=2))
        return 0
    if not args.spec:
        raise InputError("lpft sweep: give a SPEC (a YAML path or a built-in name; see --list)")
    spec = load_spec(args.spec).with_imports(args.imports, str(Path.cwd()))
    from lpft.secrets import STORAGE_ENV

    storage = args.storage or os.environ.get(STORAGE_ENV)  # a job's storage with credentials comes this way
    if storage:
        spec = spec.with_storage(storage)
    spec = spec.with_loggers(args.logger)
    from lpft.sweeps.launch import run_sweep
    from lpft.sweeps.outcome import print_outcome

    announce = [f"== sweep {spec.name}: {', '.join(spec.strategies)} on {spec.benchmark}"
                f"{' (resuming)' if args.resume else ''}"]
    if args.dashboard and args.address:
        announce.append("  note: --dashboard starts the dashboard of a local sweep; a cluster's is on its head node")
    from lpft.leave import hold_signals
    from lpft.sweeps.interrupt import Stopped

    hold_signals()  # what the sweep's own handlers give back when it returns: its summary is never cut short
    try:
        outcome = run_sweep(spec, address=args.address, resume=args.resume, progress_every=args.progress_every,
                            dashboard=args.dashboard, announce=tuple(announce))
    except Stopped as e:  # a second SIGINT/SIGTERM: no summary, the ledger is what --resume needs
        print(f"== {spec.name} stopped at once ({e.name} again); resume with: {resume_command(args, spec.storage)}",
              flush=True)
        return e.exit_status
    print_outcome(outcome, resume_command(args, spec.storage))
    report = None
    if (args.analyze or spec.analyze) and outcome.interrupted is None and outcome.trials:
        report = write_sweep_report(outcome.root.uri)
    print(next_step(outcome, resume_command(args, spec.storage), report))
    return outcome.exit_status  # 130/143 after SIGINT/SIGTERM, 1 with errored trials, else 0


def write_sweep_report(sweep: str) -> Path | None:
    """`lpft analyze SWEEP`'s report, at its default place; None (and one line) when the results
    cannot give one (every trial failed, one strategy alone is still a report)."""
    from lpft.analysis.report import analyze, write_report

    out = default_report_dir(sweep)
    try:
        write_report(analyze([sweep]), out)
    except InputError as e:
        print(f"no report: {e}")
        return None
    print(f"report: {out / 'report.html'}")
    return out / "report.html"


def next_step(outcome: Any, resume: str, report: Path | None) -> str:
    """A sweep's last line: what to run next, from how it ended."""
    sweep = shlex.quote(outcome.root.uri)
    if outcome.interrupted is not None or outcome.missing():
        return f"next: {resume}   (finishes the trials this sweep did not)"
    if outcome.errors:
        return f"next: fix what the errors above say, then {resume}; or lpft analyze {sweep} for what completed"
    if report is not None:
        return f"next: open {shlex.quote(str(report))}; lpft analyze {sweep} --format latex for a paper's table"
    return f"next: lpft analyze {sweep}   (tables, frontiers and the HTML report; or lpft sweep --analyze)"


def resume_command(args: argparse.Namespace, storage: str) -> str:
    """The `lpft sweep` that continues this one, quoted for a shell: the spec as given, where it
    is stored (without credentials: those come from the environment), the cluster, and the
    --import and --logger options (an --import is part of the stored spec --resume compares)."""
    from lpft.storage import redact

    words = ["lpft", "sweep", args.spec, "--storage", redact(args.storage or storage)]
    if args.address:
        words += ["--address", args.address]
    for name in args.imports:
        words += ["--import", name]
    for name in args.logger:
        words += ["--logger", name]
    return shlex.join([*words, "--resume"])


def cmd_analyze(args: argparse.Namespace) -> int:
    from lpft.analysis.console import report_text
    from lpft.analysis.report import FORMATS, analyze_groups, write_report

    if args.format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    reports = analyze_groups(args.results, selection=args.selection, baseline=args.baseline, skip_bad=args.skip_bad,
                             compare=args.compare, ci=args.ci)
    out = Path(args.out) if args.out else default_report_dir(args.results[0])
    for label, report in reports.items():
        if len(reports) > 1:  # never merged: each benchmark (and, unless compared, each sweep) alone
            print(f"== {label}")
        print(report_text(report, args.format), end="")
        where = out / label if len(reports) > 1 else out
        try:
            written = write_report(report, where, args.figures)
        except OSError as e:  # a read-only or impossible --out
            raise InputError(f"--out {out}: cannot write the report: {e.strerror or e}") from None
        print(f"wrote {len(written)} files to {where}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from lpft.cluster import jobs

    env = _settings(args.env, "--env") if args.env else None
    job_id = jobs.submit(args.spec, args.address, storage=args.storage, resume=args.resume, env=env,
                         imports=args.imports, loggers=args.logger)
    print(job_id, flush=True)
    if not args.follow:
        return 0
    status = jobs.follow(args.address, job_id)
    print(f"job {job_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    import datetime

    from lpft.cluster import jobs

    rows = [[r["job"], r["status"], r["sweep"], r["storage"],
             datetime.datetime.fromtimestamp(r["start_time"] / 1000).strftime("%Y-%m-%d %H:%M") if r["start_time"]
             else "-"] for r in jobs.list_jobs(args.address)]
    print(format_table(["job", "status", "sweep", "storage", "started"], rows))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from lpft.cluster import jobs

    stopped = jobs.stop(args.address, args.job)
    print(f"job {args.job}: {'stop requested' if stopped else 'already ended'}")
    return 0


def cmd_wise(args: argparse.Namespace) -> int:
    from lpft.sweeps.wise import wise_on_sweep

    for curve in wise_on_sweep(args.results, args.of or None, args.num_alphas):
        r = curve.result
        print(f"wise: LP model -> {curve.source} trial {curve.source_trial}")
        rows = [[f"{r.step_hparams[step]['alpha']:.2f}", *(pct(r.metrics(step).get(k))
                                                             for k in ("id_val", "id_test", "ood_avg"))]
                for step in sorted({e.step for e in r.evaluations})]
        print(format_table(["alpha", "id_val", "id_test", "ood_avg"], rows))
    return 0


def cmd_soup(args: argparse.Namespace) -> int:
    from lpft.sweeps.soup import KINDS, soup_on_sweep

    soups = soup_on_sweep(args.results, KINDS if args.kind == "both" else (args.kind,), args.of or None,
                          bn_reestimate=False if args.no_bn_reestimate else None)
    rows = []
    for soup in soups:
        r = soup.result
        held = r.step_hparams[0]["ingredients"].split(",")
        rows.append([soup.strategy, f"{len(held)} of {len(soup.candidates)}",
                     *(pct(r.metrics(0).get(k)) for k in ("id_val", "id_test", "ood_avg"))])
    best = soups[0].result.diagnostics
    rows.append([f"best ingredient ({best['best_ingredient']})", "1", pct(best["best_ingredient_id_val"]), "", ""])
    print(format_table(["model", "ingredients", "id_val", "id_test", "ood_avg"], rows))
    print(f"added to {args.results}: strategies {', '.join(s.strategy for s in soups)} "
          f"(lpft analyze {args.results} compares them with every strategy)")
    return 0


def default_report_dir(results: str) -> Path:
    """RESULTS/report for a local folder; ./report-<sweep> for results on an object store."""
    from lpft.storage import locate

    where = locate(results)
    return Path(where.path) / "report" if where.is_local else Path(f"report-{where.name}")


def cmd_demo(args: argparse.Namespace) -> int:
    from lpft.demo import run_demo

    outcomes = run_demo(storage=args.storage, fast=args.quick, address=args.address)
    return max((o.exit_status for o in outcomes.values() if o.interrupted is not None), default=0)


def _options() -> dict[str, argparse.ArgumentParser]:
    """Options several commands share, each written once (argparse parents)."""
    imports = argparse.ArgumentParser(add_help=False)
    imports.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE", help=IMPORT_HELP)
    address = argparse.ArgumentParser(add_help=False)
    address.add_argument("--address", required=True, help="the cluster's dashboard, e.g. http://HEAD:8265 "
                                                          "(token auth: RAY_AUTH_TOKEN or ~/.ray/auth_token)")
    sweeping = argparse.ArgumentParser(add_help=False)  # what `lpft sweep` and `lpft submit` both take
    sweeping.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    sweeping.add_argument("--logger", action="append", default=[], metavar="NAME",
                          help="also send trials to this tracker: tensorboard, mlflow or wandb (repeatable)")
    return {"imports": imports, "address": address, "sweeping": sweeping}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lpft", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"lpft {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    shared = _options()

    run = sub.add_parser("run", help="one trial of one strategy on one benchmark, without Ray",
                         description="One trial of one strategy on one benchmark, in this process (no Ray): "
                                     "a quick look before a sweep. See `lpft list` and `lpft show STRATEGY`.",
                         parents=[shared["imports"]])
    run.add_argument("benchmark", help="synthetic, digits, imagefolder, a paper benchmark or a plugin's")
    run.add_argument("--strategy", required=True,
                     help="lp, ft, lpft, l2sp, ft-partial, wise, soup-uniform, soup-greedy or a plugin's")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="a benchmark parameter, backbone/weights/device, or hyperparameter")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    run.add_argument("--save-model", metavar="PATH", help="save the trained model's state dict (for wise)")
    run.set_defaults(fn=cmd_run)

    sweep = sub.add_parser("sweep", help="a sweep of strategies on Ray Tune + Optuna, results as Parquet",
                           description="Runs a spec's sweep (a YAML file, or a built-in one: --list) on Ray: each "
                                       "strategy's search, then its best configuration on more seeds; results as "
                                       "Parquet under STORAGE/NAME. Its last line says what to run next.",
                           parents=[shared["sweeping"], shared["imports"]])
    sweep.add_argument("spec", nargs="?", help="a YAML spec path or a built-in name")
    sweep.add_argument("--list", action="store_true", help="list the built-in specs")
    sweep.add_argument("--analyze", action="store_true",
                       help="write the lpft analyze report when the sweep ends (as the spec's analyze: true)")
    sweep.add_argument("--address", help="a Ray cluster address (default: a local instance)")
    sweep.add_argument("--storage", help="results root (default: $LPFT_STORAGE if set, else the spec's storage)")
    sweep.add_argument("--dashboard", action="store_true",
                       help="a local sweep: serve Ray's dashboard while it runs (its address is printed)")
    sweep.add_argument("--progress-every", type=_positive, default=30.0, metavar="SECONDS",
                       help="where output is not a terminal: a progress line this often (default 30)")
    sweep.set_defaults(fn=cmd_sweep)

    analyze = sub.add_parser("analyze", help="tables, frontiers and effective robustness from results",
                             description="A sweep's report: the selected models' table with intervals over seeds, "
                                         "comparisons, frontiers, effective robustness, calibration, learning "
                                         "curves, hyperparameters, per-class accuracy, and report.html.")
    analyze.add_argument("results", nargs="+", help="sweep folders (or their results/ folders)")
    analyze.add_argument("--out", help="where to write the report (default: RESULTS/report, or "
                                       "./report-<sweep> for s3:// results)")
    analyze.add_argument("--selection", default="id_val",
                         help="how each strategy's model is picked: id_val (default: best ID validation accuracy), "
                              "oracle (best OOD average: an upper bound, not a fair result) or last (the last step)")
    analyze.add_argument("--baseline", default="ft",
                         help="the strategy whose points fit the probit line effective robustness is measured "
                              "against (default: ft)")
    analyze.add_argument("--ci", default="t", choices=["t", "z"],
                         help="90%% intervals over seeds: t (Student t, n-1 df; the default) or z (the paper's "
                              "1.645·s/√n, for reproducing published tables)")
    analyze.add_argument("--format", default="text", help="the printed table: text, md, latex or csv")
    analyze.add_argument("--figures", default="all", choices=["all", "png"],
                         help="figure files: all (PNG, SVG and PDF; the default) or png (quicker: the HTML "
                              "report needs no more)")
    analyze.add_argument("--skip-bad", action="store_true",
                         help="leave out unreadable or invalid results files (counted) instead of stopping")
    analyze.add_argument("--compare", action="store_true",
                         help="one report per benchmark with its sweeps side by side (<sweep>/<strategy>), "
                              "instead of one per sweep")
    analyze.set_defaults(fn=cmd_analyze)

    submit = sub.add_parser("submit", help="the same sweep as a Ray job on a cluster (Ray Jobs SDK)",
                            parents=[shared["address"], shared["sweeping"], shared["imports"]])
    submit.add_argument("spec", help="a YAML spec path or a built-in name")
    submit.add_argument("--storage", help="results root on the cluster: a shared path or s3://bucket/prefix")
    submit.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for the job (LPFT_DATA=/shared/data, ...)")
    submit.add_argument("--follow", action="store_true", help="stream the job's logs until it ends")
    submit.set_defaults(fn=cmd_submit)

    jobs = sub.add_parser("jobs", help="lpft's jobs on a cluster", parents=[shared["address"]])
    jobs.set_defaults(fn=cmd_jobs)

    stop = sub.add_parser("stop", help="stop a submitted sweep", parents=[shared["address"]])
    stop.add_argument("job", help="the job id that lpft submit printed")
    stop.set_defaults(fn=cmd_stop)

    wise = sub.add_parser("wise", help="WiSE curves for a finished sweep's best fine-tuned models")
    wise.add_argument("results", help="a sweep folder (run with save_models: true)")
    wise.add_argument("--of", nargs="+", help="the fine-tuning strategies to interpolate (default: all)")
    wise.add_argument("--num-alphas", type=int, default=11, help="alpha = 0 .. 1 in this many steps")
    wise.set_defaults(fn=cmd_wise)

    soup = sub.add_parser("soup", help="model soups (uniform, greedy) of a finished sweep's saved fine-tuned models")
    soup.add_argument("results", help="a sweep folder (run with save_models: true)")
    soup.add_argument("--kind", choices=("uniform", "greedy", "both"), default="both", help="which soups to make")
    soup.add_argument("--of", nargs="+", help="the fine-tuning strategies whose models are ingredients (default: all)")
    soup.add_argument("--no-bn-reestimate", action="store_true",
                      help="keep the averaged BatchNorm statistics instead of re-estimating them on ID train")
    soup.set_defaults(fn=cmd_soup)

    demo = sub.add_parser("demo", help="the built-in synthetic and digits-quick sweeps, end to end")
    demo.add_argument("--storage", default="results/demo", help="the demo's own results folder (replaced)")
    demo.add_argument("--quick", action="store_true",
                      help="fewer, shorter trials on tiny data, PNG figures only (for tests)")
    demo.add_argument("--address", help="a Ray cluster address to run both sweeps on (default: a local instance "
                                        "each); the demo's results folder must be reachable from its nodes")
    demo.set_defaults(fn=cmd_demo)

    from lpft.cache_cli import add_cache_parser
    from lpft.catalog_cli import add_catalog_parsers
    from lpft.spec_cli import add_spec_parsers

    add_cache_parser(sub)
    add_spec_parsers(sub, [shared["imports"]])
    add_catalog_parsers(sub, [shared["imports"]])
    return p


DESCRIPTION = """\
lpft runs hyperparameter sweeps of transfer-learning strategies (linear probing, fine-tuning,
LP-then-FT, and more) on Ray, and turns their results into in-distribution vs out-of-distribution
tables and frontiers: which strategy wins for your backbone and your shift, at what cost, and
how robust each is (Kumar et al., ICLR 2022)."""
EPILOG = """\
start here:
  lpft demo                      the built-in sweeps end to end, with a report
  lpft list                      benchmarks, strategies, backbones and built-in specs
  lpft show ft                   a strategy's keys, defaults and search ranges
  lpft init my.yaml              a commented spec to edit, then: lpft sweep my.yaml
  lpft analyze results/NAME      tables, frontiers and the HTML report of a sweep
Bad input is one line on stderr and exit status 2; `lpft COMMAND -h` for each command."""
IMPORT_HELP = ("a module that registers benchmarks, strategies or backbones (on the Python path or in the "
               "current folder); every Ray worker imports it too")


def load_plugins(args: argparse.Namespace) -> None:
    """Installed plugins (entry points) and --import modules, before anything looks a name up."""
    from lpft.plugins import import_modules, load_entry_points

    load_entry_points()
    import_modules(getattr(args, "imports", []), [Path.cwd()])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from lpft import secrets

    if "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ:  # the driver of an `lpft submit` job
        from lpft.sweeps.ray_patches import keep_from_tune

        keep_from_tune(secrets.load())
    if getattr(args, "address", None):  # before Ray is imported: it reads RAY_AUTH_MODE once
        secrets.token_auth_mode()
    try:
        load_plugins(args)
        return args.fn(args)
    except InputError as e:
        from lpft.storage import redact_text

        print(f"lpft: error: {redact_text(str(e))}", file=sys.stderr)  # no user:pass@ of any address
        return 2
    except BrokenPipeError:  # `lpft list | head`: the reader left; no traceback, and no second one at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a pipe's writer
    except KeyboardInterrupt as e:  # Ctrl-C outside a sweep, or a second signal in one: no traceback
        print("lpft: interrupted", file=sys.stderr)
        return getattr(e, "exit_status", 130)  # lpft.sweeps.interrupt.Stopped: 128 + its signal


def run() -> NoReturn:
    """The `lpft` command: `main`, then the process leaves (`lpft.leave`)."""
    from lpft.allocator import configure
    from lpft.leave import leave

    configure()  # polars' allocator, before anything imports polars (the command's, not `import lpft`'s)

    try:
        code: str | int | None = main()
    except SystemExit as e:  # argparse's --help and usage errors
        code = e.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
    leave(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":
    run()

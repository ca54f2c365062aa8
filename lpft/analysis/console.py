"""A report as `lpft analyze` prints it: a folder's incomplete-sweep note first (the table below
may be of half a sweep), the table in the chosen format, the comparisons, the frontier's owners,
effective robustness with its intervals and caveats, the notes, and BatchNorm adaptation."""

from __future__ import annotations

from lpft.analysis.adaptation import render_adaptation
from lpft.analysis.calibration import calibration_sentence, render_calibration
from lpft.analysis.report import Report
from lpft.analysis.robustness import shared_problem
from lpft.analysis.tables import owners_line
from lpft.text import pct


def report_text(report: Report, fmt: str) -> str:
    lines = [f"note: {sweep['name']}: {sweep['incomplete']}" for sweep in report.context if sweep.get("incomplete")]
    out = "".join(f"{line}\n" for line in lines) + report.tables[fmt]
    lines = [report.sentence] if report.sentence else []
    lines.append(owners_line(report.owners))
    robust, fit = report.robustness, report.fit
    numbers = robust.effective_robustness.notna().any()
    formula = f" (OOD avg = Φ({fit.slope:.2f}·Φ⁻¹(ID) {fit.intercept:+.2f}))" if numbers else ""
    head = f"effective robustness vs the {report.baseline} probit fit{formula}:"
    problem = shared_problem(robust)
    lines.append(f"{head} none: {problem}" if problem else head)  # one reason for every strategy: once
    width = max((len(s) for s in robust.strategy), default=6)
    for r in robust.itertuples() if not problem else ():
        if r.effective_robustness != r.effective_robustness:  # NaN: the baseline cannot give one
            lines.append(f"  {r.strategy:{width}s} none: {r.caveat}")
            continue
        caveat = f"  [{r.caveat}]" if r.caveat else ""
        lines.append(f"  {r.strategy:{width}s} {pct(r.effective_robustness, sign=True)} points "
                     f"(90% CI {pct(r.er_ci90_low, sign=True)} .. {pct(r.er_ci90_high, sign=True)}){caveat}")
    if report.calibration is not None:
        lines.append(render_calibration(report.calibration, report.ci))
        sentence = calibration_sentence(report.calibration, report.looks or None)
        lines += [sentence] if sentence else []
    lines += [f"note: {note}" for note in report.notes]
    if report.adaptation is not None and not report.adaptation.empty:
        lines.append(render_adaptation(report.adaptation))
    return out + "".join(f"{line}\n" for line in lines)

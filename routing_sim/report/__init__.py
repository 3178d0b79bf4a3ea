"""Results people would rather look at: an offline HTML report with figures, and a process-mining event log.

- :func:`write_report` (``routing-sim report DIR``): ``DIR/report.html`` and
  ``DIR/figures/*.png|svg`` from a run folder, a folder of run folders
  (replications and variants) or an experiment folder;
- :func:`routing_sim.report.eventlog.export_log` (``routing-sim export-log DIR``):
  ``events.csv`` and ``events.xes`` from a run folder.

Data flow: study (folders -> variants and replications) -> measures and KPI
tables -> figures (matplotlib, PNG and SVG) -> page (one self-contained HTML file).
Same results, same bytes: nothing depends on when or where the report is made.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_report"]


def write_report(folder: Path, baseline: str | None = None) -> Path:
    """Write ``folder/report.html`` (and ``folder/figures/``); return the report's path."""
    from routing_sim.report import comments, figures, html, kpitables
    from routing_sim.report.load import load_study
    from routing_sim.report.sources import config_file_of
    from routing_sim.runfolder import write_atomic

    folder = Path(folder)
    study = load_study(folder, baseline)
    config_file, notes = config_file_of(study)
    parameters, headers = comments.assumptions(config_file) if config_file else ([], [])
    if study.experiment_file and Path(study.experiment_file).is_file():
        extra, extra_headers = comments.assumptions(Path(study.experiment_file), prefix="experiment")
        parameters, headers = extra + parameters, extra_headers + headers
    rendered = figures.render_all(study, folder / "figures", kpitables.compliance_rows(study))
    text = html.render(study, parameters, headers, rendered, notes)
    target = folder / "report.html"
    write_atomic(target, text)
    return target

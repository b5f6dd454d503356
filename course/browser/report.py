"""The browser test's report: report.md (for people) and report.json (for tools) in build/browser/."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path


def _control_text(control: dict) -> str:
    """'0.31 s (0.39/0.23/0.31)': the median redraw and each move; or why there is none."""
    if control.get("redraw_s") is None:
        return "no change" if control.get("moved") else "not moved"
    moves = control.get("redraws_s", [])
    each = f" ({'/'.join(f'{t:.2f}' for t in moves)})" if len(moves) > 1 else ""
    return f"{control['redraw_s']:.2f} s{each}"


def _widget_lines(result) -> list[str]:
    lines = []
    for widget in result.widgets:
        controls = ", ".join(f"{c['kind']} {c['label'] or '?'}: {_control_text(c)}"
                             for c in widget["controls"]) or "no controls moved"
        lines.append(f"  - widget {widget['index'] + 1} (cell {widget['box'].get('cell')}, "
                     f"{widget['box']['width']}x{widget['box']['height']} px): "
                     f"{controls}")
    return lines


def write_report(results, out_dir: Path, elapsed: float) -> Path:
    """Write both files; return the path of report.md."""
    out_dir = Path(out_dir)
    passed = sum(r.ok for r in results)
    lines = [f"# Browser test: {passed}/{len(results)} lectures passed in {elapsed:.0f} s", "",
             "Redraw times are measured in the browser (control moved -> figure settled), on this machine: "
             "the median of a control's moves (each move in brackets).", ""]
    for result in results:
        timings = ", ".join(f"{k} {v} s" for k, v in result.timings.items())
        lines.append(f"## {result.lecture}: {'ok' if result.ok else 'FAILED'} ({timings})")
        lines += [f"- FAIL: {failure}" for failure in result.failures]
        lines += [f"- warning: {warning}" for warning in result.warnings]
        lines += _widget_lines(result)
        lines.append(f"- screenshots: {', '.join(result.screenshots) or 'none'}")
        lines.append("")
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    (out_dir / "report.json").write_text(json.dumps(
        {"elapsed_s": round(elapsed, 1), "lectures": [dataclasses.asdict(r) | {"ok": r.ok} for r in results]},
        indent=1))
    return report

"""The browser test's report: report.md (for people) and report.json (for tools) in build/browser/."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path


def _widget_lines(result) -> list[str]:
    lines = []
    for widget in result.widgets:
        controls = ", ".join(
            f"{c['kind']} {c['label'] or '?'}: "
            + (f"{c['redraw_s']:.2f} s" + (f" ({'/'.join(f'{t:.2f}' for t in c['redraws_s'])})"
                                            if len(c.get("redraws_s", [])) > 1 else "")
               if c.get("redraw_s") is not None else
               "no change" if c.get("moved") else "not moved")
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

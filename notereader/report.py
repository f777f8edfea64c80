"""Readable reports of an Analysis for a person at a terminal."""

from __future__ import annotations

from typing import Any

_HI = ("\x1b[1;4m", "\x1b[0m")
_MARK = ("[[", "]]")


def _context(text: str, start: int, end: int, color: bool, width: int = 160) -> str:
    a = max(0, start - width // 2)
    b = min(len(text), end + width // 2)
    on, off = _HI if color else _MARK
    snippet = text[a:start] + on + text[start:end] + off + text[end:b]
    snippet = " ".join(snippet.split())
    return ("…" if a > 0 else "") + snippet + ("…" if b < len(text) else "")


def render_report(text: str, analysis: dict[str, Any], color: bool = False) -> str:
    out = [f"note {analysis['note_id']}  (text sha256 {analysis['text_sha256'][:12]}, fingerprint {analysis['fingerprint'][:12]})", ""]
    out.append(f"RISKS ({len(analysis['risks'])})")
    for r in analysis["risks"]:
        out.append(f"  [{r['severity'].upper()}] {r['title']} ({r['rubric_id']} v{r['rubric_version']}, score {r['score']})")
        for c in r["citations"]:
            out.append(f"      ¶{c['paragraph']} {c['start']}-{c['end']}: {_context(text, c['start'], c['end'], color)}")
    if not analysis["risks"]:
        out.append("  none raised")
    out.append("")
    out.append("THEMES: " + (", ".join(t["rubric_id"] for t in analysis["themes"]) or "none"))
    out.append("")
    out.append(f"GOALS ({len(analysis['goals'])})")
    for g in analysis["goals"]:
        c = g["citations"][0]
        out.append(f"  {g['goal_id']}: {g['direction']} (score {g['score']}) — {_context(text, c['start'], c['end'], color, 60)}")
    out.append("")
    out.append(f"WHY NOT FLAGGED ({len(analysis['suppressed'])})")
    for s in analysis["suppressed"]:
        c = s["citations"][0]
        out.append(f"  {s['rubric_id']}: {s['reason']} (cue {s['cue']!r}) — {_context(text, c['start'], c['end'], color, 40)}")
    return "\n".join(out) + "\n"


def render_summary(text: str, analysis: dict[str, Any]) -> str:
    lines = [f"== {analysis['note_id']}"]
    for r in analysis["risks"]:
        q = r["citations"][0]["quote"]
        lines.append(f"  RISK {r['severity']:8s} {r['rubric_id']:22s} \"{q[:110]}{'…' if len(q) > 110 else ''}\"")
    for s in analysis["suppressed"]:
        if s["rubric_id"] in {r["rubric_id"] for r in analysis["risks"]}:
            continue
        lines.append(f"  not flagged: {s['rubric_id']} ({s['reason']}, cue {s['cue']!r})")
    if analysis["themes"]:
        lines.append("  themes: " + ", ".join(t["rubric_id"] for t in analysis["themes"]))
    for g in analysis["goals"]:
        lines.append(f"  goal {g['goal_id']}: {g['direction']}")
    return "\n".join(lines) + "\n"

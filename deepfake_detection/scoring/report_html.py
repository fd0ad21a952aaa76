"""A one-page, self-contained HTML report of `/detect` answers: what the page downloads and `deepfake-detect --html`
writes.

One renderer for both, so a report looks the same whoever made it. No script, no external asset: thumbnails
and heatmaps are inline data URLs and each person's timeline is an inline SVG, so the file can be mailed,
archived or attached to a case as is.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable

from deepfake_detection.modeling.heatmap import APPROXIMATION_NOTE
from deepfake_detection.scoring.answer import parse_answer

COLOURS = {"fake": "#b00020", "real": "#1b7e2e", "inconclusive": "#8a6d00", "error": "#555"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 62rem; padding: 0 1rem; color: #222; }
.warning { background: #fff3cd; border: 1px solid #e0c060; padding: .5rem .8rem; border-radius: 6px; }
table { border-collapse: collapse; font-size: .9rem; } th, td { padding: .2rem .6rem; text-align: left; }
th { border-bottom: 1px solid #999; } .verdict { font-weight: bold; }
section { border-top: 1px solid #ddd; margin-top: 1.5rem; padding-top: .5rem; }
.person { display: flex; gap: 1rem; align-items: flex-start; margin: .8rem 0; }
.heatmaps img { width: 64px; height: 64px; margin-right: 2px; border-radius: 3px; }
img.thumb { width: 112px; height: 112px; border-radius: 6px; border: 1px solid #ccc; }
.note { font-size: .85rem; color: #555; }
.evidence { border: 1px solid #ccc; border-radius: 6px; padding: .4rem .9rem; margin: .6rem 0; background: #fcfcfc; }
.evidence h3 { font-size: 1rem; margin: .5rem 0 .2rem; } .evidence ul { margin: .2rem 0; font-size: .9rem; }
.assessment { font-weight: bold; font-size: 1.1rem; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def timeline_svg(person: dict, duration_s: float, threshold: float, width: int = 520, height: int = 110) -> str:
    """p(fake) per clip as bars over the video's duration, with the threshold as a dashed line."""
    pad, duration = 24, max(float(duration_s or 0), 1e-6)
    w, h = width - 2 * pad, height - 2 * pad

    def x(t: float) -> float:
        return pad + w * float(t) / duration

    def y(p: float) -> float:
        return pad + h * (1 - float(p))

    bars = []
    for seg in person.get("timeline", []):
        colour = COLOURS["fake"] if seg["p_fake"] >= threshold else COLOURS["real"]
        x0, x1 = x(seg["start_s"]), max(x(seg["end_s"]), x(seg["start_s"]) + 2)
        bars.append(f'<rect x="{x0:.1f}" y="{y(seg["p_fake"]):.1f}" width="{x1 - x0:.1f}" '
                    f'height="{pad + h - y(seg["p_fake"]):.1f}" fill="{colour}" fill-opacity=".6">'
                    f'<title>{seg["start_s"]:.2f}-{seg["end_s"]:.2f} s: p(fake) {seg["p_fake"]:.3f}</title>'
                    "</rect>")  # fmt: skip
    label = f"p(fake) per clip of person {person.get('face_index')}"
    return (f'<svg role="img" aria-label="{_e(label)}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><rect x="{pad}" y="{pad}" width="{w}" height="{h}" fill="none" '
            f'stroke="#999"/><line x1="{pad}" x2="{pad + w}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
            f'stroke="#b00020" stroke-dasharray="4 4"/>{"".join(bars)}'
            f'<text x="2" y="{pad + 4}" font-size="10">1</text><text x="2" y="{pad + h}" font-size="10">0</text>'
            f'<text x="{pad}" y="{height - 4}" font-size="10">0 s</text>'
            f'<text x="{pad + w - 30}" y="{height - 4}" font-size="10">{duration:.1f} s</text></svg>')  # fmt: skip


def _person(person: dict, answer: dict) -> str:
    thumb = person.get("thumbnail_jpeg")
    alt = f"face crop of person {int(person['face_index'])}"
    img = f'<img class="thumb" alt="{alt}" src="data:image/jpeg;base64,{thumb}">' if thumb else ""
    maps = [seg for seg in person.get("timeline", []) if seg.get("heatmap_png")]
    heat = ""
    if maps:
        imgs = "".join(f'<img alt="model focus, clip at {s["start_s"]:.1f} s" title="{s["start_s"]:.1f} s" '
                       f'src="data:image/png;base64,{s["heatmap_png"]}">' for s in maps)  # fmt: skip
        heat = f'<div class="heatmaps">{imgs}<p class="note">Model focus: {_e(APPROXIMATION_NOTE)}.</p></div>'
    duration = answer.get("video", {}).get("duration_s")
    duration = float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else 0.0
    svg = timeline_svg(person, duration, answer.get("threshold", 0.5))
    size = f", face {person['face_size']:.0f} px" if person.get("face_size") is not None else ""
    return (f'<div class="person">{img}<div><b>person {int(person["face_index"])}</b>: p(fake) '
            f'{_p(person["p_fake"])}, {len(person.get("timeline", []))} clips{size}<br>{svg}{heat}'
            "</div></div>")  # fmt: skip


def _items(values: list[str], cls: str = "") -> str:
    items = "".join(f"<li>{_e(v)}</li>" for v in values if v)
    return f'<ul class="{cls}">{items}</ul>' if items else ""


def _evidence(answer: dict) -> str:
    """The evidence beyond the pixels: the assessment, Content Credentials, container and audio facts."""
    a, p, c, au = (answer.get(k) for k in ("assessment", "provenance", "container", "audio"))
    if not (a or p or c or au):
        return ""
    parts = ["<h3>Evidence beyond the pixels</h3>"]
    if a:
        parts.append(f'<p class="assessment">{_e(a["headline"])}</p>{_items(a["reasons"])}')
        if a["caveats"]:
            parts.append(f'<p class="note">What it cannot mean:</p>{_items(a["caveats"], "note")}')
    if p:
        signer = " ".join(x for x in (p["signer"], f"({p['issuer']})" if p["issuer"] else None) if x)
        trust = "no trust list configured"
        if p["trust_list"]:
            trust = f"{'on' if p['trusted'] else 'not on'} the trust list {p['trust_list']}"
        rows = [("state", p["state"]), ("summary", p["summary"]), ("signed by", signer),
                ("trust", trust if p["state"] in ("valid", "trusted", "invalid") else None),
                ("claim generator", p["claim_generator"]), ("signed at", p["signed_at"]), ("title", p["title"]),
                ("failed checks", "; ".join(f"{f['code']}: {f['explanation']}" if f["explanation"] else f["code"]
                                            for f in p["failures"])),
                ("actions", "; ".join(" ".join(x for x in (act["action"], act["digital_source_type"],
                                                           act["software_agent"]) if x) for act in p["actions"])),
                ("manifest on the web", p["remote_url"]), ("network", p["network"])]  # fmt: skip
        parts.append("<h3>Content Credentials (C2PA)</h3>" + _facts_table(rows))
    if c:
        device = " ".join(x for x in (c["device_make"], c["device_model"]) if x)
        rows = [("written by", c["writing_application"]), ("encoders", "; ".join(c["encoders"])),
                ("device", device), ("created", c["creation_time"])]  # fmt: skip
        parts.append("<h3>Container</h3>" + _facts_table(rows) + _items(c["notes"], "note"))
    if au:
        parts.append(f"<h3>Audio</h3><p>{_e(au['summary'] or ('present' if au['present'] else 'no audio track'))}</p>")
    return f'<div class="evidence">{"".join(parts)}</div>'


def _facts_table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    return f"<table>{body}</table>" if body else ""


def _section(answer: dict) -> str:
    name = answer.get("file") or answer.get("request_id") or "upload"
    if answer.get("error") is not None:
        return f'<section><h2>{_e(name)}</h2><p class="verdict">error: {_e(answer["error"])}</p></section>'
    video = answer.get("video", {})
    facts = ", ".join(f"{k} {_e(video[k])}" for k in ("width", "height", "fps", "duration_s", "codec") if k in video)
    reasons = "".join(f'<p class="reason">{_e(r["message"])}</p>' for r in answer.get("reasons", []))
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in video.get("notes", []))
    counts = answer.get("persons") or {}
    persons = (f'<p>{counts.get("analysed", 0)} person(s) analysed'
               + (f', at least {counts["seen"]} seen' if counts.get("seen", 0) > counts.get("analysed", 0) else "")
               + "</p>")  # fmt: skip
    colour = COLOURS.get(answer["verdict"], "#222")
    return (f'<section><h2>{_e(name)}</h2><p class="verdict" style="color:{colour}">{_e(answer["verdict"]).upper()}'
            f'</p><p>p(fake) {_p(answer.get("p_fake"))} at threshold {_p(answer.get("threshold"))}</p>{persons}'
            f'{reasons}<p class="note">{facts}</p>{notes}{_evidence(answer)}'
            f'{"".join(_person(p, answer) for p in answer.get("faces", []))}</section>')  # fmt: skip


def _summary_row(answer: dict) -> str:
    name = answer.get("file") or answer.get("request_id") or "upload"
    verdict = "error" if answer.get("error") is not None else answer["verdict"]
    detail = answer["error"] if answer.get("error") is not None else " ".join(r["message"] for r in answer["reasons"])
    assessment = (answer.get("assessment") or {}).get("headline", "")
    return (f'<tr><td>{_e(name)}</td><td class="verdict" style="color:{COLOURS.get(verdict, "#222")}">{_e(verdict)}'
            f'</td><td>{_p(answer.get("p_fake"))}</td><td>{len(answer.get("faces", []))}</td>'
            f"<td>{_e(assessment)}</td><td>{_e(detail)}</td></tr>")  # fmt: skip


def render_report(answers: Iterable[dict], title: str = "deepfake-videomae report") -> str:
    """HTML for `/detect` answers (each may carry `file`; an `error` answer gets a row with its error).

    Raises `ValueError` (pydantic's ValidationError) for anything that is not an answer; the service answers
    that with 400. Every string is escaped and every embedded image must be base64, so an answer cannot carry
    markup into the page.
    """
    answers = [parse_answer(a).model_dump(mode="json") for a in answers]
    models = {json.dumps(a["model"], sort_keys=True): a["model"] for a in answers if isinstance(a.get("model"), dict)}
    model_lines = "".join(
        f"<p>model {_e(m.get('name'))} version {_e(m.get('version'))} ({_e(m.get('stage'))}), trained on "
        f"{_e(m.get('trained_on'))}, backend {_e(m.get('backend'))}</p>"
        + (f'<p class="warning">{_e(m["warning"])}</p>' if m.get("warning") else "")
        for m in models.values()
    )
    rows = "".join(_summary_row(a) for a in answers)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>{model_lines}"
            f"<table><thead><tr><th>file</th><th>verdict</th><th>p(fake)</th><th>persons</th><th>assessment</th>"
            f'<th>reasons / error</th></tr></thead><tbody>{rows}</tbody></table>{"".join(_section(a) for a in answers)}'
            "<p class=\"note\">Video-level p(fake): mean over a person's clips, max over persons. No usable face: "
            "inconclusive, never real.</p></body></html>")  # fmt: skip

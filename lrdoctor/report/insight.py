"""The sweep insight (``insight.sweep``) as text, Markdown and JSON.

Setting names and values come from config files and directory names, chosen by whoever
made them: each is escaped where it is placed (``display`` for text, ``markdown`` for a
table cell); lrdoctor's own words and numbers are not.

JSON keys (schema version 1, under the report's ``insight``; null below 4 runs):
``status`` (separated, not separated, no sick run, all sick, too few runs, no settings),
``runs``, ``judged``, ``sick``, ``sick_verdicts``, ``alpha``, ``figure``; ``settings[]``, ranked,
each with ``setting``, ``status`` (separates, suggestive, does not separate, too few runs),
``rank`` (1-based among the separating, else null), ``sick_side`` and ``other_side``
(``label``, ``sick``, ``runs``), ``p_value`` (over the setting's own splits), ``p_adjusted``
(Holm across settings), ``test``, ``values[]`` (``label``, ``sick``, ``runs``), ``known``,
``sources[]``; ``not_judged[]`` (``setting``, ``values``, ``why``: seeds and identifiers);
``constant[]`` (setting names); ``recommendations[]`` (``setting``, ``label``, ``sick``,
``runs``: the healthy side of each separating setting); ``combined`` (``settings``, ``sick``,
``runs``: the runs on the healthy side of all of them, or null under two); ``within[]`` (``among``,
``setting``, ``sick_side``, ``other_side``, ``p_adjusted``: what separates the runs on the sick
side of the first setting, an interaction); ``runs_judged[]`` (``name``, ``verdict``, ``kl_share_over``).
"""

from __future__ import annotations

from typing import Any

from lrdoctor.insight.sweep import Group, Insight, Separation
from lrdoctor.words import display, markdown

MAX_CONSTANT_LISTED = 6


def counts(group: Group, key: str, words: str = "") -> str:
    """"learning_rate >= 3e-02: 6/6 collapsed" (``words`` after the first group only)."""
    return f"{key} {group.label}: {group.sick}/{group.runs}" + (f" {words}" if words else "")


def p_text(p: float) -> str:
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.2g}"


def split_text(separation: Separation, words: str) -> str:
    """"learning_rate >= 3e-02: 6/6 collapsed; <= 3e-03: 0/16", names escaped."""
    key = display(separation.setting)
    inside, outside = separation.inside, separation.outside
    return (
        f"{key} {display(inside.label)}: {inside.sick}/{inside.runs} {words}; "
        f"{display(outside.label)}: {outside.sick}/{outside.runs}"
    )


def per_value(separation: Separation) -> str:
    if not separation.values:
        return f"{separation.known} runs, too many values to list"
    return " · ".join(f"{display(g.label)} {g.sick}/{g.runs}" for g in separation.values)


def headline(insight: Insight) -> str:
    """The one line that says what the sweep shows."""
    n, sick, words = insight.judged, insight.sick, insight.sick_words
    if insight.status == "no sick run":
        return f"{n} runs judged, none {words}: no sick run, nothing to separate"
    if insight.status == "all sick":
        return f"all {n} runs judged are {words}: nothing separates them from a healthy run"
    if insight.status == "no settings":
        return f"{sick}/{n} runs {words}, but no setting varies across the runs (none read, or all equal)"
    if insight.status == "too few runs":
        return (f"{sick}/{n} runs {words}: too few runs to say (even a setting splitting the {words} runs "
                f"from the rest exactly would not reach p < {insight.alpha:g})")
    top = insight.separating
    if top:
        return f"{sick}/{n} runs {words}; best separated by {split_text(top[0], words)}"
    return f"{sick}/{n} runs {words}; no setting separates them at p < {insight.alpha:g} (corrected)"


def lines(insight: Insight) -> list[str]:
    """The section as plain lines, without the leading title."""
    words = insight.sick_words
    out = [headline(insight)]
    separating = insight.separating
    tested = len(insight.with_status("separates", "suggestive", "does not separate"))
    if separating:
        out.append(f"settings that separate (Holm-corrected over {tested} tested, level {insight.alpha:g}):")
        for rank, s in enumerate(separating, 1):
            out.append(f"  {rank}. {split_text(s, words)}   {p_text(s.p_adjusted)}")
            out.append(f"     per value: {per_value(s)}")
            out.append(f"     from: {'; '.join(display(src) for src in s.sources)} · test: {s.test}")
    for s in insight.within:
        out.append(f"  among the runs with {display(s.within)}: {split_text(s, words)}   {p_text(s.p_adjusted)}")
    for s in insight.with_status("suggestive"):
        out.append(f"suggestive, not confirmed: {split_text(s, words)}   {p_text(s.p_adjusted)} corrected "
                   f"({p_text(s.p_value)} alone)")
    flat = insight.with_status("does not separate")
    if flat:
        out.append("vary without separating: " + "; ".join(
            f"{display(s.setting)} ({per_value(s)}, {p_text(s.p_value)})" for s in flat))
    few = insight.with_status("too few runs")
    if few and insight.status not in ("no sick run", "all sick"):
        out.append("too few runs to say: " + "; ".join(f"{display(s.setting)} ({per_value(s)})" for s in few))
    elif few:
        out.append("vary (no run to separate): " + "; ".join(f"{display(s.setting)} ({per_value(s)})" for s in few))
    for v in insight.varying_unjudged:
        out.append(f"not a cause: {display(v.setting)} ({v.values} values; {v.why})")
    if insight.constant:
        shown = ", ".join(display(k) for k in insight.constant[:MAX_CONSTANT_LISTED])
        more = f", … ({len(insight.constant)} in all)" if len(insight.constant) > MAX_CONSTANT_LISTED else ""
        out.append(f"the same in every run: {shown}{more}")
    for r in insight.recommendations:
        out.append(f"recommendation: {counts(r.group, display(r.setting), words)} "
                   "(the settings of the runs that trained well)")
    if insight.combined is not None:
        c = insight.combined
        out.append(f"all of them: runs with {display(c.setting)}: {c.group.sick}/{c.group.runs} {words}")
    return out


def markdown_lines(insight: Insight | None, figure: str | None = None) -> list[str]:
    """The section as Markdown: a table to paste into a pull request."""
    if insight is None:
        return []
    words = insight.sick_words
    out = ["## Sweep insight", "", markdown(headline(insight)) + ".", ""]
    rows = [s for s in insight.separations if insight.status not in ("no sick run", "all sick")]
    if rows:
        out += [f"| rank | setting | {words} side | other side | per value | p (corrected) | status |",
                "|---|---|---|---|---|---|---|"]
        rank = 0
        for s in rows:
            rank += s.status == "separates"
            cells = [
                str(rank) if s.status == "separates" else "",
                markdown(s.setting),
                f"{markdown(s.inside.label)}: {s.inside.sick}/{s.inside.runs}",
                f"{markdown(s.outside.label)}: {s.outside.sick}/{s.outside.runs}",
                markdown(per_value(s)),
                f"{s.p_adjusted:.2g}",
                s.status,
            ]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    for v in insight.varying_unjudged:
        out.append(f"- not a cause: {markdown(v.setting)} ({v.values} values; {v.why})")
    for r in insight.recommendations:
        out.append(f"- recommendation: {markdown(counts(r.group, r.setting, words))}")
    for s in insight.within:
        out.append(f"- among the runs with {markdown(s.within)}: {markdown(split_text(s, words))} "
                   f"(p = {s.p_adjusted:.2g})")
    if insight.combined is not None:
        c = insight.combined
        out.append(f"- all of them: runs with {markdown(c.setting)}: {c.group.sick}/{c.group.runs} {words}")
    if figure:
        out += ["", f"![verdicts by setting]({figure})"]
    return out + [""]


def json_entry(insight: Insight | None, figure: str | None = None) -> dict[str, Any] | None:
    if insight is None:
        return None
    rank = 0
    settings = []
    for s in insight.separations:
        rank += s.status == "separates"
        settings.append({
            "setting": s.setting,
            "status": s.status,
            "rank": rank if s.status == "separates" else None,
            "sick_side": _group(s.inside),
            "other_side": _group(s.outside),
            "p_value": s.p_value,
            "p_adjusted": s.p_adjusted,
            "test": s.test,
            "values": [_group(g) for g in s.values],
            "known": s.known,
            "sources": list(s.sources),
        })
    return {
        "status": insight.status,
        "runs": insight.runs,
        "judged": insight.judged,
        "sick": insight.sick,
        "sick_verdicts": insight.sick_words.split(" or "),
        "alpha": insight.alpha,
        "settings": settings,
        "not_judged": [{"setting": v.setting, "values": v.values, "why": v.why} for v in insight.varying_unjudged],
        "constant": list(insight.constant),
        "recommendations": [{"setting": r.setting, **_group(r.group)} for r in insight.recommendations],
        "within": [
            {"among": s.within, "setting": s.setting, "sick_side": _group(s.inside), "other_side": _group(s.outside),
             "p_adjusted": s.p_adjusted} for s in insight.within
        ],
        "combined": None if insight.combined is None else {
            "settings": insight.combined.setting, "sick": insight.combined.group.sick,
            "runs": insight.combined.group.runs},
        "runs_judged": [
            {"name": p.name, "verdict": p.verdict, "kl_share_over": p.kl_share_over} for p in insight.points
        ],
        "figure": figure,
    }


def _group(group: Group) -> dict[str, Any]:
    return {"label": group.label, "sick": group.sick, "runs": group.runs}

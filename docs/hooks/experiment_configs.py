"""MkDocs hook: replaces `<!-- experiment-configs -->` in experiments.md with one table per
registered experiment, generated from its pydantic config model (key, type, default, the
--quick value), so the page cannot drift from the code."""

from __future__ import annotations

MARKER = "<!-- experiment-configs -->"


def _type_name(annotation) -> str:
    name = getattr(annotation, "__name__", None)
    return name if name and "[" not in str(annotation) else str(annotation).replace(
        "typing.", "")


def _cell(v) -> str:
    return "`" + repr(v).replace("|", "\\|") + "`"


def render() -> str:
    from lowranklab.experiments import load_all

    out = []
    for name, exp in sorted(load_all().items()):
        out.append(f"### `{name}`\n\n{exp.summary} (paper `{exp.paper}`, figure "
                   f"{exp.figure}).\n")
        out.append("| key | type | default | --quick |\n|---|---|---|---|")
        for key, f in exp.config.model_fields.items():
            quick = _cell(exp.quick[key]) if key in exp.quick else ""
            out.append(f"| `{key}` | {_type_name(f.annotation)} | {_cell(f.default)} | "
                       f"{quick} |")
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files):
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown

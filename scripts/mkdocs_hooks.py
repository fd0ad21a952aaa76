"""MkDocs hooks (`hooks:` in mkdocs.yml): the settings reference generated from the pydantic models themselves.

A line `<!-- fields: deepfake_detection.service_settings.ServiceSettings -->` in a page becomes a table of
that model's fields (key, type and bounds, default, meaning), so the reference cannot drift from the code.
A name that does not import fails the build.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

MARKER = re.compile(r"^<!-- fields: ([\w.]+) -->$", re.MULTILINE)
ALTERNATIVES = re.compile(r"^\^\(([^()]+)\)\$$")  # a pattern such as ^(sampler|loss|none)$
BOUNDS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥", "max_length": "length ≤"}


def on_config(config):
    """The checkout this site is built from comes first on the import path (an editable install elsewhere, such as
    a shared virtualenv's, must not supply the models)."""
    sys.path.insert(0, str(Path(config.config_file_path).resolve().parent))
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: settings_table(load_model(m.group(1))), markdown)


def load_model(dotted: str) -> type[BaseModel]:
    module, _, name = dotted.rpartition(".")
    model = getattr(importlib.import_module(module), name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{dotted} is not a pydantic model")
    return model


def settings_table(model: type[BaseModel]) -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        kind = type_name(field.annotation) + constraints(field.metadata)
        meaning = (field.description or "").replace("|", "&#124;").replace("\n", " ")
        rows.append(f"| `{name}` | {kind} | {default(field)} | {meaning} |")
    return "\n".join(rows) + "\n"


def type_name(annotation) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if origin in (list, tuple, dict):
        return f"{origin.__name__} of " + ", ".join(type_name(a) for a in args) if args else origin.__name__
    if annotation is SecretStr:
        return "secret string"
    return getattr(annotation, "__name__", str(annotation))


def constraints(metadata: list) -> str:
    out = []
    for item in metadata:
        for key, sign in BOUNDS.items():
            if getattr(item, key, None) is not None:
                out.append(f"{sign} {getattr(item, key)}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            choices = ALTERNATIVES.match(pattern)
            out.append("one of " + ", ".join(f"`{c}`" for c in choices.group(1).split("|")) if choices
                       else f"matching `{pattern}`")  # fmt: skip
    return f", {', '.join(out)}" if out else ""


def default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        changed = value.model_dump(exclude_defaults=True, mode="json")
        return f"{type(value).__name__} defaults" + (f" with `{json.dumps(changed)}`" if changed else "")
    if isinstance(value, list | tuple | dict) and any(isinstance(v, BaseModel) for v in value):
        value = [v.model_dump(exclude_defaults=True, mode="json") for v in value]
    text = json.dumps(value, default=str)
    return f"`{text}`".replace("|", "&#124;")

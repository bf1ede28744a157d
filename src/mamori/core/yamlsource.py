"""Read YAML while remembering the line of every value, so errors can point at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mamori.core.errors import InputError
from mamori.core.i18n import N_

PathKey = tuple[str | int, ...]

# Catalog files are hand-written text; anything larger is a mistake, not a catalog.
MAX_YAML_BYTES = 5 * 1024 * 1024


@dataclass
class YamlDocument:
    """Plain Python data from one YAML file, with the line (1-based) of each path."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def error(self, message: str, path: PathKey, **params: Any) -> InputError:
        """An input error located at `path` in this file."""
        return InputError(
            message,
            file=self.file,
            line=self.line_of(path),
            field=format_path(path),
            params=params,
        )


def format_path(path: PathKey) -> str:
    """`commitments[3].title.ja` from `("commitments", 3, "title", "ja")`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _convert(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise InputError(
                    N_("mapping keys must be text"),
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=format_path(path),
                )
            key = str(key)
            if key in result:
                raise InputError(
                    N_("the key '%(key)s' appears twice"),
                    file=file,
                    line=key_node.start_mark.line + 1,
                    field=format_path((*path, key)),
                    params={"key": key},
                )
            result[key] = _convert(value_node, (*path, key), lines, file)
            # Point at the key ("title:"), not where its nested value happens to start.
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), lines, file) for index, item in enumerate(node.value)
        ]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: Path, display_name: str | None = None) -> YamlDocument:
    """Parse `path`; a syntax error becomes an InputError with its line."""
    file = display_name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InputError(
                N_("the file is %(size)s bytes; the limit is %(limit)s"),
                file=file,
                params={"size": size, "limit": MAX_YAML_BYTES},
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(N_("file not found"), file=file) from exc
    except UnicodeDecodeError as exc:
        raise InputError(N_("the file is not valid UTF-8"), file=file) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise InputError(
            N_("invalid YAML: %(problem)s"),
            file=file,
            line=mark.line + 1 if mark else None,
            params={"problem": exc.problem or str(exc)},
        ) from exc
    except yaml.YAMLError as exc:
        raise InputError(
            N_("invalid YAML: %(problem)s"), file=file, params={"problem": str(exc)}
        ) from exc
    lines: dict[PathKey, int] = {}
    data = None if root is None else _convert(root, (), lines, file)
    return YamlDocument(file=file, data=data, lines=lines)

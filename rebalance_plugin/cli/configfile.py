"""Change a few keys of a Freqtrade config file and leave every other byte as it was.

``freqtrade-rebalance init`` rewrites the ``rebalance`` section, ``exchange.pair_whitelist`` and
``max_open_trades``. Re-dumping the whole file would reorder nothing but would reflow every
compact line and drop the comments Freqtrade allows in config files; instead the file is
scanned (JSON plus ``//`` and ``/* */`` comments and trailing commas, as Freqtrade's loader
reads it), only the values of those keys are replaced (a missing key is added at the end of its
object), and the result is parsed again and compared with what was intended before anything is
written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigFileError(ValueError):
    """The file is not a JSON object Freqtrade could read; the message says where."""


@dataclass
class Node:
    """A JSON value's span in the text; objects keep their members in order."""

    start: int
    end: int
    members: list[tuple[str, int, Node]] = field(default_factory=list)  # (key, key_start, value)
    is_object: bool = False


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, pos: int, what: str) -> ConfigFileError:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return ConfigFileError(f"{what} at line {line}, column {col}")

    def skip(self, i: int) -> int:
        t = self.text
        while i < len(t):
            if t[i] in " \t\r\n\ufeff":
                i += 1
            elif t.startswith("//", i):
                j = t.find("\n", i)
                i = len(t) if j < 0 else j + 1
            elif t.startswith("/*", i):
                j = t.find("*/", i + 2)
                if j < 0:
                    raise self.fail(i, "unterminated /* comment")
                i = j + 2
            else:
                break
        return i

    def string_end(self, i: int) -> int:
        t = self.text
        j = i + 1
        while j < len(t):
            if t[j] == "\\":
                j += 2
            elif t[j] == '"':
                return j + 1
            else:
                j += 1
        raise self.fail(i, "unterminated string")

    def value(self, i: int) -> Node:
        t = self.text
        i = self.skip(i)
        if i >= len(t):
            raise self.fail(i, "a value is missing")
        c = t[i]
        if c == "{":
            return self.container(i, "}", is_object=True)
        if c == "[":
            return self.container(i, "]", is_object=False)
        if c == '"':
            return Node(i, self.string_end(i))
        j = i
        while j < len(t) and t[j] not in ",}] \t\r\n/":
            j += 1
        if j == i:
            raise self.fail(i, f"unexpected {c!r}")
        return Node(i, j)

    def container(self, i: int, close: str, is_object: bool) -> Node:
        t = self.text
        node = Node(i, i, is_object=is_object)
        j = self.skip(i + 1)
        while True:
            if j >= len(t):
                raise self.fail(i, f"unclosed {t[i]!r}")
            if t[j] == close:
                node.end = j + 1
                return node
            if is_object:
                if t[j] != '"':
                    raise self.fail(j, "a key (a string in double quotes) is expected")
                key_end = self.string_end(j)
                key = json.loads(t[j:key_end])
                k = self.skip(key_end)
                if k >= len(t) or t[k] != ":":
                    raise self.fail(k, f"':' is expected after the key {key!r}")
                child = self.value(k + 1)
                node.members.append((key, j, child))
            else:
                child = self.value(j)
                node.members.append(("", j, child))
            j = self.skip(child.end)
            if j < len(t) and t[j] == ",":
                j = self.skip(j + 1)
            elif j < len(t) and t[j] != close:
                raise self.fail(j, f"',' or {close!r} is expected")


def scan(text: str) -> Node:
    """The tree of spans of a config file whose top level is an object."""
    scanner = _Scanner(text)
    root = scanner.value(0)
    if not root.is_object:
        raise scanner.fail(root.start, "the config must be a JSON object ({ ... })")
    rest = scanner.skip(root.end)
    if rest != len(text):
        raise scanner.fail(rest, "text after the end of the config")
    return root


def parse(text: str) -> dict[str, Any]:
    """The config as Freqtrade reads it (comments and trailing commas allowed)."""
    import rapidjson

    try:
        data = rapidjson.loads(
            text, parse_mode=rapidjson.PM_COMMENTS | rapidjson.PM_TRAILING_COMMAS
        )
    except (ValueError, rapidjson.JSONDecodeError) as err:
        scan(text)  # names the line and column when it can
        raise ConfigFileError(str(err)) from err
    if not isinstance(data, dict):
        raise ConfigFileError("the config must be a JSON object ({ ... })")
    return data


# ---- rendering ----------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """Whole floats as ints (1000.0 is written 1000), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def inline(value: Any) -> str:
    return json.dumps(plain(value), ensure_ascii=False, separators=(", ", ": "))


def render(value: Any, indent: str, unit: str) -> str:
    """An object one member a line (values inline), anything else inline."""
    if isinstance(value, Mapping) and value:
        inner = indent + unit
        body = ",\n".join(f"{inner}{json.dumps(k)}: {inline(v)}" for k, v in value.items())
        return "{\n" + body + "\n" + indent + "}"
    return inline(value)


def _line_indent(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    j = start
    while j < pos and text[j] in " \t":
        j += 1
    return text[start:j]


def _unit(text: str, root: Node) -> str:
    for _, key_start, _ in root.members:
        indent = _line_indent(text, key_start)
        if indent and text[text.rfind("\n", 0, key_start) + 1 : key_start].strip() == "":
            return indent
    return "    "


def set_value(text: str, path: Sequence[str], value: Any) -> str:
    """``text`` with the value at ``path`` (keys from the top) replaced, or added at the end
    of the innermost existing object; the rest of the text unchanged."""
    root = scan(text)
    unit = _unit(text, root)
    node = root
    depth = 0
    while depth < len(path):
        key = path[depth]
        member = next((m for m in node.members if m[0] == key), None)
        if member is None:
            break
        _, key_start, found = member
        if depth == len(path) - 1:
            indent = _line_indent(text, key_start)
            return text[: found.start] + render(value, indent, unit) + text[found.end :]
        if not found.is_object:
            raise ConfigFileError(f"{'.'.join(path[: depth + 1])} is not an object")
        node = found
        depth += 1
    # Add path[depth:] inside `node`.
    rest = list(path[depth:])
    for key in reversed(rest[1:]):
        value = {key: value}
    key = rest[0]
    if node.members:
        last_key_start = node.members[-1][1]
        indent = _line_indent(text, last_key_start)
        at = node.members[-1][2].end
        piece = f",\n{indent}{json.dumps(key)}: {render(value, indent, unit)}"
    else:
        outer = _line_indent(text, node.start)
        indent = outer + unit
        at = node.start + 1
        piece = f"\n{indent}{json.dumps(key)}: {render(value, indent, unit)}\n{outer}"
    return text[:at] + piece + text[at:]


def edit(text: str, changes: Mapping[tuple[str, ...], Any]) -> str:
    """Apply every change (path -> value) and check the result reads back as intended."""
    before = parse(text)
    new = text
    for path, value in changes.items():
        new = set_value(new, path, value)
    expected = json.loads(json.dumps(before))
    for path, value in changes.items():
        target = expected
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = json.loads(json.dumps(plain(value)))
    if parse(new) != expected:  # pragma: no cover - a bug here must never reach the file
        raise ConfigFileError("internal error: the edited config does not read back as intended")
    return new


def write_atomic(path: Path, text: str) -> None:
    """Replace the file in one step (a crash leaves the old file or the new one, whole)."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def template_config() -> Path | None:
    """This project's own config.json (the template every user config starts from), when
    the package runs from a checkout."""
    candidate = Path(__file__).resolve().parents[2] / "config.json"
    return candidate if candidate.is_file() else None


def missing_config_message(path: Path) -> str:
    template = template_config()
    start = (
        f"copy this project's config.json, a complete Freqtrade config for the rebalancer: "
        f"cp {template} {path}"
        if template is not None
        else "copy config.json from the freqtrade-rebalance repository (a complete Freqtrade "
        f"config for the rebalancer) to {path}"
    )
    return (
        f"config file {path} does not exist. To get one, {start}; then run this command "
        f"again (or pass --config PATH)."
    )


def read_config(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its parsed content. Raises FileNotFoundError (with how to get a
    config) or :class:`ConfigFileError` (naming the file and the place)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(missing_config_message(path))
    text = path.read_text(encoding="utf-8")
    try:
        return text, parse(text)
    except ConfigFileError as err:
        raise ConfigFileError(f"{path} is not a valid config file: {err}") from err

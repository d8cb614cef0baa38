"""The Bot API specification (``api.json``) and validation of call parameters against it.

``api.json`` (Bot API 10.1, MIT, see ``LICENSE.api-json``) lists every method with its fields and
every type with its fields and subtypes. :func:`load_spec` reads it from this package once.

Parameters arrive the way Telegram receives them: as strings from a query string or a form (where
clients such as python-telegram-bot put JSON-serialised values for nested objects), or as JSON
values from a JSON body. :meth:`ApiSpec.check_params` decodes them like the Bot API server does
(``"123"`` is an Integer, ``"true"`` a Boolean, a string holding JSON is an object) and then checks
them strictly:

* an unknown parameter is rejected (real Telegram ignores it; the double is stricter on purpose);
* a missing required parameter is rejected with Telegram's phrasing where known;
* values must have the spec's type; nested objects must have every required field and no unknown
  field, and abstract types (``InlineQueryResult``, ``BotCommandScope``...) must match one of
  their subtypes;
* a few semantic rules Telegram enforces are checked too (callback data 1-64 bytes, exactly one
  action per inline keyboard button, entity types).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from botapi_double.errors import ApiError, bad_request

__all__ = [
    "ApiSpec",
    "FieldSpec",
    "MethodSpec",
    "SpecError",
    "TypeSpec",
    "UploadedFile",
    "load_spec",
]

PRIMITIVES = frozenset({"Integer", "Float", "Boolean", "String", "InputFile"})
_ARRAY = "Array of "
_CONSTANT_RES = (
    re.compile(r"must be ([a-z0-9_]+)\s*$"),
    re.compile(r"always [\"\u201c]([a-z0-9_]+)[\"\u201d]"),
)
_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "True", "1"})
_FALSE = frozenset({"false", "False", "0"})

# Telegram's own words for a missing required parameter, where they are known.
_MISSING_PHRASES = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
}

# The action fields of an InlineKeyboardButton: exactly one must be set.
_BUTTON_DECORATION = frozenset({"text", "icon_custom_emoji_id", "style"})
_BUTTON_STYLES = frozenset({"danger", "success", "primary"})
ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a ``multipart/form-data`` call."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a method or a type."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """One Bot API method: its fields in spec order and what it returns."""

    name: str
    fields: Mapping[str, FieldSpec]
    returns: tuple[str, ...]
    description: str

    @property
    def returns_true(self) -> bool:
        """Whether the method returns only ``True`` on success."""
        return self.returns == ("Boolean",) and "True" in self.description


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """One Bot API type: its fields, its subtypes, and constant discriminator fields."""

    name: str
    fields: Mapping[str, FieldSpec]
    subtypes: tuple[str, ...]
    constants: Mapping[str, str] = field(default_factory=dict)


class SpecError(Exception):
    """A value that does not match the spec (internal; becomes a 400 answer)."""

    def __init__(self, message: str, path: str, type_name: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.type_name = type_name


def _field(raw: Mapping[str, Any]) -> FieldSpec:
    return FieldSpec(
        name=str(raw["name"]),
        types=tuple(str(t) for t in raw["types"]),
        required=bool(raw["required"]),
        description=str(raw.get("description", "")),
    )


def _constants(fields: Mapping[str, FieldSpec]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("type", "status", "source"):
        spec = fields.get(name)
        if spec is None or spec.types != ("String",):
            continue
        for regex in _CONSTANT_RES:
            match = regex.search(spec.description)
            if match:
                found[name] = match.group(1)
                break
    return found


def _type_label(types: tuple[str, ...]) -> str:
    return " or ".join(types)


class ApiSpec:
    """The parsed ``api.json``: lookups and parameter validation."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.version = str(raw.get("version", ""))
        self.methods: dict[str, MethodSpec] = {}
        for name, method in raw["methods"].items():
            fields = {f["name"]: _field(f) for f in method.get("fields", [])}
            self.methods[name] = MethodSpec(
                name=name,
                fields=fields,
                returns=tuple(method.get("returns", [])),
                description=" ".join(method.get("description", [])),
            )
        self._by_lower = {name.lower(): name for name in self.methods}
        self.types: dict[str, TypeSpec] = {}
        for name, type_ in raw["types"].items():
            fields = {f["name"]: _field(f) for f in type_.get("fields", [])}
            self.types[name] = TypeSpec(
                name=name,
                fields=fields,
                subtypes=tuple(type_.get("subtypes", [])),
                constants=_constants(fields),
            )

    def method(self, name: str) -> MethodSpec | None:
        """Return the method called ``name`` (Bot API method names are case-insensitive)."""
        canonical = self._by_lower.get(name.lower())
        return None if canonical is None else self.methods[canonical]

    # -- call parameters -------------------------------------------------------------------

    def check_params(self, method: MethodSpec, raw: Mapping[str, object]) -> dict[str, Any]:
        """Decode and validate the parameters of one call; raise :class:`ApiError` on failure.

        ``raw`` maps parameter names to strings (query string, form), JSON values (JSON body) or
        :class:`UploadedFile` (multipart file parts). Empty strings and JSON nulls count as
        absent, as for Telegram. The result maps each given parameter to its decoded value.
        """
        for name in raw:
            if name not in method.fields:
                raise bad_request(f"unknown parameter {name}")
        present = {k: v for k, v in raw.items() if v is not None and v != ""}
        for spec in method.fields.values():
            if spec.required and spec.name not in present:
                phrase = _MISSING_PHRASES.get(spec.name, f'parameter "{spec.name}" is required')
                raise bad_request(phrase)
        params: dict[str, Any] = {}
        for name, value in present.items():
            params[name] = self._top_level(method.fields[name], value)
        return params

    def _top_level(self, spec: FieldSpec, value: object) -> Any:
        for type_ in spec.types:
            if type_ in PRIMITIVES:
                ok, decoded = _coerce_primitive(type_, value)
                if ok:
                    return decoded
                continue
            # An object or an array: a JSON string (form data) or a JSON value (JSON body).
            if isinstance(value, UploadedFile):
                continue
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise _parse_error(spec.name, None) from None
            try:
                return self.validate(value, spec.types, spec.name)
            except SpecError as exc:
                raise _parse_error(spec.name, exc) from None
        shown = value.filename if isinstance(value, UploadedFile) else value
        raise bad_request(
            f'invalid parameter "{spec.name}": expected {_type_label(spec.types)}, got {shown!r}'
        )

    # -- nested values -----------------------------------------------------------------------

    def validate(self, value: Any, types: tuple[str, ...], path: str) -> Any:
        """Validate a JSON value against one of ``types``; raise :class:`SpecError` if none fits."""
        errors: list[tuple[int, SpecError]] = []
        for type_ in types:
            try:
                return self._validate_one(value, type_, path)
            except SpecError as exc:
                errors.append((self._overlap(value, type_), exc))
        # Report the error of the alternative the value resembles most.
        errors.sort(key=lambda item: -item[0])
        best = errors[0][1]
        if len(types) > 1 and best.type_name is None:
            raise SpecError(
                f'Field "{_leaf(path)}" must be of type {_type_label(types)}', path, None
            )
        raise best

    def _overlap(self, value: Any, type_: str) -> int:
        spec = self.types.get(type_)
        if spec is None or not isinstance(value, dict):
            return 0
        return sum(1 for key in value if key in spec.fields)

    def _validate_one(self, value: Any, type_: str, path: str) -> Any:
        if type_.startswith(_ARRAY):
            inner = type_[len(_ARRAY) :]
            if not isinstance(value, list):
                raise SpecError(f'Field "{_leaf(path)}" must be an Array', path, None)
            return [self._validate_one(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
        if type_ in PRIMITIVES:
            if _strict_primitive(type_, value):
                return value
            raise SpecError(f'Field "{_leaf(path)}" must be of type {type_}', path, None)
        spec = self.types.get(type_)
        if spec is None:
            raise SpecError(f"unknown type {type_}", path, type_)
        if spec.subtypes:
            return self._validate_abstract(value, spec, path)
        return self._validate_object(value, spec, path)

    def _validate_abstract(self, value: Any, spec: TypeSpec, path: str) -> Any:
        if not isinstance(value, dict):
            raise SpecError(f"{spec.name} should be an Object", path, spec.name)
        candidates = [self.types[name] for name in spec.subtypes]
        for key in ("type", "status", "source"):
            if key in value and any(key in c.constants for c in candidates):
                matching = [c for c in candidates if c.constants.get(key) == value[key]]
                if not matching:
                    allowed = sorted({c.constants[key] for c in candidates if key in c.constants})
                    raise SpecError(
                        f'Field "{key}" of {spec.name} must be one of {", ".join(allowed)}; '
                        f"got {value[key]!r}",
                        path,
                        spec.name,
                    )
                candidates = matching
                break
        errors: list[tuple[int, SpecError]] = []
        for candidate in candidates:
            try:
                return self._validate_one(value, candidate.name, path)
            except SpecError as exc:
                known = sum(1 for k in value if k in candidate.fields)
                errors.append((known, exc))
        errors.sort(key=lambda item: -item[0])
        raise errors[0][1]

    def _validate_object(self, value: Any, spec: TypeSpec, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SpecError(f"{spec.name} should be an Object", path, spec.name)
        for key in value:
            if key not in spec.fields:
                where = f" at {path}" if path else ""
                raise SpecError(f'Unknown field "{key}" in {spec.name}{where}', path, spec.name)
        result: dict[str, Any] = {}
        for name, fspec in spec.fields.items():
            if name not in value:
                if fspec.required:
                    raise SpecError(f'Can\'t find field "{name}"', path, spec.name)
                continue
            constant = spec.constants.get(name)
            if constant is not None and value[name] != constant:
                raise SpecError(
                    f'Field "{name}" of {spec.name} must be "{constant}"', path, spec.name
                )
            try:
                result[name] = self.validate(value[name], fspec.types, f"{path}.{name}")
            except SpecError as exc:
                if exc.type_name is None:
                    exc.type_name = spec.name
                raise
        check = _SEMANTIC_CHECKS.get(spec.name)
        if check is not None:
            check(result, path)
        return result

    def object_errors(self, type_name: str, value: Any) -> list[str]:
        """Return why ``value`` is not a valid ``type_name`` (empty when it is).

        Used to check the double's own answers (Updates, Messages) against the spec.
        """
        try:
            self.validate(value, (type_name,), type_name)
        except SpecError as exc:
            return [f"{exc.path}: {exc.message}"]
        except ApiError as exc:
            return [exc.description]
        return []


def _leaf(path: str) -> str:
    tail = path.rsplit(".", 1)[-1]
    return tail.split("[", 1)[0]


def _parse_error(param: str, exc: SpecError | None) -> ApiError:
    if param == "reply_markup":
        if exc is None:
            return bad_request("can't parse reply keyboard markup JSON object")
        if exc.type_name == "InlineKeyboardButton":
            return bad_request(f"can't parse inline keyboard button: {exc.message}")
        return bad_request(f"can't parse reply keyboard markup JSON object: {exc.message}")
    if exc is None:
        return bad_request(f"can't parse {param} JSON object")
    return bad_request(f"can't parse {param} JSON object: {exc.message}")


def _coerce_primitive(type_: str, value: object) -> tuple[bool, Any]:
    """Decode a top-level value the way the Bot API server does (strings are accepted)."""
    if type_ == "InputFile":
        return isinstance(value, UploadedFile | str), value
    if isinstance(value, UploadedFile):
        return False, None
    if type_ == "Integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return True, value
        if isinstance(value, str) and _INT_RE.match(value.strip()):
            return True, int(value)
        return False, None
    if type_ == "Float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True, float(value)
        if isinstance(value, str):
            try:
                return True, float(value)
            except ValueError:
                return False, None
        return False, None
    if type_ == "Boolean":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, str) and value in _TRUE:
            return True, True
        if isinstance(value, str) and value in _FALSE:
            return True, False
        return False, None
    # String
    if isinstance(value, str):
        return True, value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True, str(value)
    return False, None


def _strict_primitive(type_: str, value: object) -> bool:
    """Check a value nested in a JSON object: JSON types must match exactly."""
    if type_ == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_ == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_ == "Boolean":
        return isinstance(value, bool)
    return isinstance(value, str)  # String, InputFile (file_id, URL or attach://<name>)


# -- semantic checks Telegram applies beyond the types -------------------------------------------


def _check_inline_button(button: dict[str, Any], path: str) -> None:
    actions = [name for name in button if name not in _BUTTON_DECORATION]
    if not actions:
        raise SpecError(
            "Text buttons are unallowed in the inline keyboard", path, "InlineKeyboardButton"
        )
    if len(actions) > 1:
        raise SpecError(
            "exactly one of the optional action fields must be used, got "
            + ", ".join(f'"{a}"' for a in actions),
            path,
            "InlineKeyboardButton",
        )
    if not button["text"]:
        raise SpecError("button text must be non-empty", path, "InlineKeyboardButton")
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")
    style = button.get("style")
    if style is not None and style not in _BUTTON_STYLES:
        raise SpecError(f'unsupported button style "{style}"', path, "InlineKeyboardButton")
    url = button.get("url")
    if url is not None and not url.strip():
        raise bad_request("BUTTON_URL_INVALID")


def _check_entity(entity: dict[str, Any], path: str) -> None:
    kind = entity["type"]
    if kind not in ENTITY_TYPES:
        raise SpecError(f'unsupported entity type "{kind}"', path, "MessageEntity")
    needs = {"text_link": "url", "text_mention": "user", "custom_emoji": "custom_emoji_id"}
    wanted = needs.get(kind)
    if wanted is not None and wanted not in entity:
        raise SpecError(f'Can\'t find field "{wanted}"', path, "MessageEntity")
    if entity["offset"] < 0 or entity["length"] <= 0:
        raise SpecError("entity offset and length are out of range", path, "MessageEntity")


def _check_result_id(result: dict[str, Any], path: str) -> None:
    if not 1 <= len(str(result["id"]).encode("utf-8")) <= 64:
        raise bad_request("RESULT_ID_INVALID")


_SEMANTIC_CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "InlineKeyboardButton": _check_inline_button,
    "MessageEntity": _check_entity,
}


@functools.cache
def load_spec() -> ApiSpec:
    """Load ``api.json`` from this package (once per process)."""
    text = resources.files("botapi_double").joinpath("api.json").read_text(encoding="utf-8")
    spec = ApiSpec(json.loads(text))
    for name, type_ in spec.types.items():
        if name.startswith("InlineQueryResult") and "id" in type_.fields:
            _SEMANTIC_CHECKS.setdefault(name, _check_result_id)
    return spec

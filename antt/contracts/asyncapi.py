"""Generate the AsyncAPI 3.0 document of every published event from the contracts (never by hand).

Channels come from antt.contracts.subjects, headers from antt.contracts.envelope, payload schemas
from the antt.events.v1 protobuf descriptors. `antt asyncapi > docs/asyncapi.yaml`.
"""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from antt.contracts import envelope, subjects, types

TITLE = "antt events / sự kiện của antt"
HEADER_DOCS = {
    envelope.MSG_ID: "JetStream de-duplication id, equal to ce-id",
    "ce-specversion": "CloudEvents version",
    "ce-id": "<service>:<position>, unique and stable; de-duplicate on it",
    "ce-type": "antt.<service>.v1.<EventType>",
    "ce-source": "antt/<service>",
    "ce-time": "when the event was recorded (RFC 3339, UTC)",
    "ce-subject": "id of the aggregate (unit, case, …)",
    "ce-datacontenttype": "encoding of the payload",
    "antt-position": "position in the publishing service's event store (increasing)",
    "antt-actor": "id of who caused the event (token subject)",
    "antt-hash": "this event's digest in its aggregate's hash chain",
    "antt-prev-hash": "the previous event's digest (empty for the first)",
}
_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "uint32", "minimum": 0},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "uint32", "minimum": 0},
    FieldDescriptor.TYPE_INT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_SINT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_UINT64: {"type": "integer", "format": "uint64", "minimum": 0},
    FieldDescriptor.TYPE_FIXED64: {"type": "integer", "format": "uint64", "minimum": 0},
}


def event_types() -> dict[str, Descriptor]:
    """ce-type -> descriptor of every published event (messages with a `meta` field)."""
    return {t: cls.DESCRIPTOR for t, cls in sorted(types.registry().items())
            if "meta" in cls.DESCRIPTOR.fields_by_name}


def _ref(full_name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{full_name}"}


def _enum_schema(e: EnumDescriptor) -> dict[str, Any]:
    return {"type": "string", "enum": [v.name for v in e.values],
            "x-protobuf-enum": e.full_name, "description": "protobuf enum (number on the wire)"}


def _field_schema(f: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        value = f.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _field_schema(value, schemas)}
    if f.message_type is not None:
        _message_schema(f.message_type, schemas)
        item: dict[str, Any] = _ref(f.message_type.full_name)
    elif f.enum_type is not None:
        item = _enum_schema(f.enum_type)
    else:
        item = dict(_SCALARS[f.type])
    repeated = getattr(f, "is_repeated", None)
    is_list = repeated if isinstance(repeated, bool) else f.label == FieldDescriptor.LABEL_REPEATED
    schema = {"type": "array", "items": item} if is_list else item
    return {**schema, "x-protobuf-field": f.number} if "$ref" not in schema else {"allOf": [schema],
                                                                                 "x-protobuf-field": f.number}


def _message_schema(d: Descriptor, schemas: dict[str, Any]) -> None:
    if d.full_name in schemas:
        return
    schemas[d.full_name] = {}  # claimed before the fields: a message nested in itself ends the recursion
    props = {f.name: _field_schema(f, schemas) for f in d.fields}
    schemas[d.full_name] = {"type": "object", "x-protobuf-message": d.full_name, "properties": props}


def _headers_schema(ce_type: str) -> dict[str, Any]:
    sample = envelope.headers_for(envelope.new("svc", 1, ce_type, "", ""))
    props: dict[str, Any] = {}
    for name in sample:
        prop: dict[str, Any] = {"type": "string", "description": HEADER_DOCS.get(name, name)}
        if name == "ce-type":
            prop["const"] = ce_type
        elif name in ("ce-specversion", "ce-datacontenttype"):
            prop["const"] = sample[name]
        props[name] = prop
    return {"type": "object", "required": sorted(props), "properties": props}


def document() -> dict[str, Any]:
    """The AsyncAPI document as plain data."""
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    params = {
        "province_code": {"description": "official 2-digit province code, or _ when the event has no area"},
        "commune_code": {"description": "official 5-digit commune code, or _ when the event has no commune"},
    }
    for ce_type, d in event_types().items():
        service, name = ce_type.split(".")[1], types.event_name(ce_type)
        _message_schema(d, schemas)
        key = f"{service}.{name}"
        messages[key] = {
            "name": name, "title": ce_type, "contentType": envelope.CONTENT_TYPE,
            "summary": f"{ce_type}: protobuf {d.full_name}",
            "headers": _headers_schema(ce_type), "payload": _ref(d.full_name),
        }
        address = subjects.filter_for(service, name, "{province_code}", "{commune_code}")
        channels[key] = {"address": address, "parameters": params,
                         "messages": {name: {"$ref": f"#/components/messages/{key}"}}}
        operations[f"receive.{key}"] = {"action": "receive", "channel": {"$ref": f"#/channels/{key}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": TITLE, "version": subjects.VERSION,
                 "description": "Generated from proto/antt/events/v1 and antt.contracts; do not edit by hand."},
        "defaultContentType": envelope.CONTENT_TYPE,
        "servers": {"jetstream": {"host": "nats.example:4222", "protocol": "nats",
                                  "description": "Agencies connect with the credentials of `antt agency add`."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML without anchors/aliases (readable by every AsyncAPI tool)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    """The document as YAML text."""
    return yaml.dump(document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)

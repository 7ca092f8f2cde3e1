#!/usr/bin/env python3
"""Wire-contract check: Signet's descriptors against the official Python SDK's.

Usage: compare_descriptors.py <file_descriptor_set.bin>

The argument is the encoded google.protobuf.FileDescriptorSet that
`signet_proto::FILE_DESCRIPTOR_SET` exposes. For every file Signet compiles
(except the google/protobuf well-known types and Signet's own
signet/ extensions) the script imports the matching
`*_pb2` module of the installed `yandexcloud` SDK (google/api and google/rpc
come from googleapis-common-protos, which the SDK depends on), parses its
embedded FileDescriptorProto and compares both sides element by element:
package, imports, messages (nested too), fields (number, type, type name,
label, effective JSON name, oneof, proto3_optional, options), oneofs and
their options, enums, extensions, services and methods (types, streaming,
options). Options are compared after parsing them through the SDK's own
extension registry, so `google.api.http`, `yandex.cloud.api.operation` and the
`yandex.cloud` validation options are compared as values, not as bytes.

Every difference is printed with its full path. Exit status: 0 when the two
sides are identical, 1 on any difference or a file missing on either side,
2 on bad usage.
"""

import importlib
import sys

from google.protobuf import descriptor_pb2, unknown_fields

# Importing these modules registers the custom options as extensions of the
# descriptor option messages, so parsing exposes them as typed values instead
# of unknown bytes. They must be imported before anything is parsed.
import google.api.annotations_pb2  # noqa: F401  (registers google.api.http)
import yandex.cloud.api.operation_pb2  # noqa: F401  (registers yandex.cloud.api.operation)
import yandex.cloud.validation_pb2  # noqa: F401  (registers yandex.cloud.required & co.)

# Files that must be present on both sides even if Signet forgot one.
EXPECTED_FILES = [
    "google/api/annotations.proto",
    "google/api/http.proto",
    "google/rpc/error_details.proto",
    "google/rpc/status.proto",
    "yandex/cloud/access/access.proto",
    "yandex/cloud/api/operation.proto",
    "yandex/cloud/endpoint/api_endpoint.proto",
    "yandex/cloud/endpoint/api_endpoint_service.proto",
    "yandex/cloud/iam/v1/iam_token_service.proto",
    "yandex/cloud/iam/v1/key.proto",
    "yandex/cloud/iam/v1/key_service.proto",
    "yandex/cloud/iam/v1/service_account.proto",
    "yandex/cloud/iam/v1/service_account_service.proto",
    "yandex/cloud/kms/v1/asymmetricsignature/asymmetric_signature_crypto_service.proto",
    "yandex/cloud/kms/v1/asymmetricsignature/asymmetric_signature_key.proto",
    "yandex/cloud/kms/v1/asymmetricsignature/asymmetric_signature_key_service.proto",
    "yandex/cloud/operation/operation.proto",
    "yandex/cloud/operation/operation_service.proto",
    "yandex/cloud/resourcemanager/v1/folder.proto",
    "yandex/cloud/resourcemanager/v1/folder_service.proto",
    "yandex/cloud/validation.proto",
]

# Well-known types ship with both protox and the protobuf runtime, in versions
# that need not agree; they are not part of the contract under test.
SKIPPED_PREFIX = "google/protobuf/"
# Signet's own extensions (package signet.*) are not part of Yandex's API: the SDK has no
# counterpart to compare them with.
SIGNET_PREFIX = "signet/"

FieldProto = descriptor_pb2.FieldDescriptorProto


def default_json_name(name):
    """The JSON name protoc derives when none is given: drop each underscore
    and upper-case the letter after it."""
    out = []
    upper_next = False
    for ch in name:
        if ch == "_":
            upper_next = True
        elif upper_next:
            out.append(ch.upper())
            upper_next = False
        else:
            out.append(ch)
    return "".join(out)


def is_repeated(fd):
    flag = getattr(fd, "is_repeated", None)
    if flag is not None:
        return flag
    return fd.label == fd.LABEL_REPEATED


def scalar(fd, value):
    if fd.enum_type is not None:
        enum_value = fd.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else value
    return value


def message_value(msg):
    """Any message (typically an *Options) as a dict of its set fields, with
    extensions keyed as `(full.name)` and unparsed bytes kept visible."""
    out = {}
    for fd, value in msg.ListFields():
        key = "(%s)" % fd.full_name if fd.is_extension else fd.name
        if fd.message_type is not None:
            out[key] = [message_value(v) for v in value] if is_repeated(fd) else message_value(value)
        else:
            out[key] = [scalar(fd, v) for v in value] if is_repeated(fd) else scalar(fd, value)
    unknown = [(f.field_number, f.wire_type, f.data) for f in unknown_fields.UnknownFieldSet(msg)]
    if unknown:
        out["<unparsed option fields>"] = unknown
    return out


def options_of(owner):
    return message_value(owner.options) if owner.HasField("options") else {}


def field_value(field, oneof_names):
    out = {
        "number": field.number,
        "label": FieldProto.Label.Name(field.label),
        "type": FieldProto.Type.Name(field.type),
        "type_name": field.type_name,
        "json_name": field.json_name if field.HasField("json_name") else default_json_name(field.name),
        "oneof": oneof_names[field.oneof_index] if field.HasField("oneof_index") else None,
        "proto3_optional": field.proto3_optional,
        "default_value": field.default_value,
        "options": options_of(field),
    }
    if field.HasField("extendee"):
        out["extendee"] = field.extendee
    return out


def enum_value(enum):
    out = {"options": options_of(enum)}
    for value in enum.value:
        out["value " + value.name] = {"number": value.number, "options": options_of(value)}
    return out


def descriptor_value(msg):
    oneof_names = [o.name for o in msg.oneof_decl]
    out = {
        "options": options_of(msg),
        "extension_range": sorted((r.start, r.end) for r in msg.extension_range),
        "reserved_range": sorted((r.start, r.end) for r in msg.reserved_range),
        "reserved_name": sorted(msg.reserved_name),
    }
    for field in msg.field:
        out["field " + field.name] = field_value(field, oneof_names)
    for index, oneof in enumerate(msg.oneof_decl):
        out["oneof " + oneof.name] = {
            "fields": [f.name for f in msg.field if f.HasField("oneof_index") and f.oneof_index == index],
            "options": options_of(oneof),
        }
    for nested in msg.nested_type:
        out["message " + nested.name] = descriptor_value(nested)
    for enum in msg.enum_type:
        out["enum " + enum.name] = enum_value(enum)
    for ext in msg.extension:
        out["extension " + ext.name] = field_value(ext, [])
    return out


def file_value(fdp):
    out = {
        "package": fdp.package,
        "syntax": fdp.syntax or "proto2",
        "dependency (as a set)": sorted(set(fdp.dependency)),
        "public_dependency": sorted(fdp.dependency[i] for i in fdp.public_dependency),
    }
    # Language options (go_package, java_package, ...) are part of the brief
    # for the yandex files; the vendored google files only need the same
    # types, so their per-language hints are not compared.
    if fdp.name.startswith("yandex/"):
        out["options"] = options_of(fdp)
    for msg in fdp.message_type:
        out["message " + msg.name] = descriptor_value(msg)
    for enum in fdp.enum_type:
        out["enum " + enum.name] = enum_value(enum)
    for ext in fdp.extension:
        out["extension " + ext.name] = field_value(ext, [])
    for service in fdp.service:
        svc = {"options": options_of(service)}
        for method in service.method:
            svc["method " + method.name] = {
                "input_type": method.input_type,
                "output_type": method.output_type,
                "client_streaming": method.client_streaming,
                "server_streaming": method.server_streaming,
                "options": options_of(method),
            }
        out["service " + service.name] = svc
    return out


def diff(ours, sdk, path, report):
    if isinstance(ours, dict) and isinstance(sdk, dict):
        for key in sorted(set(ours) | set(sdk)):
            sub = "%s > %s" % (path, key)
            if key not in sdk:
                report.append("%s: present in Signet, absent in the SDK (Signet: %r)" % (sub, ours[key]))
            elif key not in ours:
                report.append("%s: absent in Signet, present in the SDK (SDK: %r)" % (sub, sdk[key]))
            else:
                diff(ours[key], sdk[key], sub, report)
    elif ours != sdk:
        report.append("%s: Signet %r != SDK %r" % (path, ours, sdk))


def sdk_file(name):
    module_name = name[: -len(".proto")].replace("/", ".") + "_pb2"
    module = importlib.import_module(module_name)
    fdp = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
    if fdp.name != name:
        raise ImportError("%s describes %s, not %s" % (module_name, fdp.name, name))
    return fdp


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1], "rb") as handle:
        ours = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    our_files = {
        f.name: f
        for f in ours.file
        if not f.name.startswith(SKIPPED_PREFIX) and not f.name.startswith(SIGNET_PREFIX)
    }

    report = []
    names = sorted(set(EXPECTED_FILES) | set(our_files))
    for name in names:
        if name not in our_files:
            report.append("%s: missing from Signet's descriptor set" % name)
            continue
        try:
            theirs = sdk_file(name)
        except ImportError as err:
            report.append("%s: no matching module in the SDK (%s)" % (name, err))
            continue
        before = len(report)
        diff(file_value(our_files[name]), file_value(theirs), name, report)
        print("%-90s %s" % (name, "identical" if len(report) == before else "DIFFERS"))

    if report:
        print("\n%d difference(s):" % len(report))
        for line in report:
            print("  " + line)
        return 1
    print("\nall %d files match the yandexcloud SDK descriptors" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

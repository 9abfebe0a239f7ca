"""A protoc plugin for buf.gen.yaml that writes the Python messages and gRPC stubs.

protoc's Python generator and the gRPC Python generator are compiled into grpcio-tools and exist
as no plugin binary that buf could run, so this plugin hands buf's request to them: the parsed
files go in as a descriptor set, and what they write goes back as the plugin's response. A stub
module is written only for a file that declares a service (a file without one would get an
empty module).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def _without_json_names(file: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """buf fills in every field's json_name; protoc keeps only those the .proto sets (ours set
    none). The Python modules embed the descriptors that the server's reflection serves, and
    grpcurl writes JSON keys by json_name, so they must stay as protoc writes them."""
    file = descriptor_pb2.FileDescriptorProto.FromString(file.SerializeToString())
    pending = list(file.message_type)
    while pending:
        message = pending.pop()
        for field in [*message.field, *message.extension]:
            field.ClearField("json_name")
        pending.extend(message.nested_type)
    for field in file.extension:
        field.ClearField("json_name")
    return file


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    )
    files = [_without_json_names(f) for f in request.proto_file]
    by_name = {f.name: f for f in files}
    with_services = [name for name in request.file_to_generate if by_name[name].service]
    with tempfile.TemporaryDirectory() as tmp:
        descriptors = Path(tmp) / "files.binpb"
        descriptors.write_bytes(descriptor_pb2.FileDescriptorSet(file=files).SerializeToString())
        out = Path(tmp) / "out"
        out.mkdir()
        runs = [(f"--python_out={out}", list(request.file_to_generate))]
        if with_services:
            runs.append((f"--grpc_python_out={out}", with_services))
        for flag, files in runs:
            if protoc.main(["protoc", f"--descriptor_set_in={descriptors}", flag, *files]) != 0:
                response.error = f"grpc_tools.protoc {flag.split('=')[0]} failed"
                return response
        for path in sorted(p for p in out.rglob("*.py")):
            response.file.add(name=str(path.relative_to(out)), content=path.read_text())
    return response


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(request).SerializeToString())


if __name__ == "__main__":
    main()

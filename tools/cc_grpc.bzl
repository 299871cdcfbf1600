"""cc_grpc_library(): protoc + grpc_cpp_plugin from Debian, as a genrule.

Native proto_library/cc_proto_library would need @com_google_protobuf built from source,
which cannot be fetched offline. Protos are named from the
repository root, so `import "proto/ktstr/v1/topology.proto";` works and C++ includes
`proto/ktstr/v1/topology.pb.h`.
"""

def cc_grpc_library(name, srcs, grpc = True, deps = [], static = False, **kwargs):
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    pkg = native.package_name()
    cmd = "/usr/bin/protoc --proto_path=. --cpp_out=$(GENDIR)"
    if grpc:
        cmd += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"
    cmd += " " + " ".join(["%s/%s" % (pkg, s) if pkg else s for s in srcs])
    native.genrule(
        name = name + "_codegen",
        srcs = srcs + [d + "_protos" for d in deps],
        outs = outs,
        cmd = cmd,
        message = "protoc %s" % name,
    )

    # Transitive .proto files, so imports of imports are visible in the sandbox.
    native.filegroup(name = name + "_protos", srcs = srcs + [d + "_protos" for d in deps])
    lib = "@protobuf_static" if static else "@protobuf"
    if grpc:
        lib = "@grpc_static" if static else "@grpc"
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + [lib],
        **kwargs
    )

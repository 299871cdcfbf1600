"""BPF (sched_ext) build rules: the toolchain repository, bpf_object and bpf_skeleton.

The toolchain lives in one place, `@bpf_toolchain`, made by the repository rule below from
what tools/setup prepared:
  - `:libbpf`      static libbpf 1.8 built from the kernel's own tools/lib/bpf (Debian's 1.1 cannot
                   load sched_ext, and 1.4.6 cannot compile bpftool 7.5 skeletons);
  - `:bpf_headers` <bpf/*.h>, <scx/*.h> and a vmlinux.h generated at fetch time with
                   `bpftool btf dump` from the default guest kernel's BTF (never committed);
  - `:clang`       the compiler for `-target bpf` (BPF_CLANG below: change it here only);
  - `:bpftool`     for `gen object` (static linking of BPF objects) and `gen skeleton`.
"""

# clang-14 (bookworm's default) compiles the project's schedulers. Larger out-of-tree schedulers
# may need a newer clang: this is the one place to change it.
BPF_CLANG = "clang-14"
BPF_CFLAGS = ["-g", "-O2", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-Wall", "-Werror",
              # vmlinux.h forward declarations trip this harmless clang-14 warning.
              "-Wno-missing-declarations"]

def _run_ok(rctx, args, what):
    r = rctx.execute(args, timeout = 120)
    if r.return_code != 0:
        fail("%s failed (run tools/setup):\n%s%s" % (what, r.stdout, r.stderr))
    return r.stdout.strip()

def _bpf_toolchain_impl(rctx):
    setup = rctx.path(Label("//tools:setup"))
    kernel_dir = _run_ok(rctx, ["bash", str(setup), "--print-kernel-dir"], "tools/setup --print-kernel-dir")
    bpf_dir = _run_ok(rctx, ["bash", str(setup), "--print-bpf-dir"], "tools/setup --print-bpf-dir")
    clang = rctx.which(BPF_CLANG)
    if clang == None:
        fail("%s not found (tools/setup installs it)" % BPF_CLANG)
    bpftool = rctx.which("bpftool")
    if bpftool == None:
        for p in ["/usr/sbin/bpftool", "/sbin/bpftool"]:
            if rctx.path(p).exists:
                bpftool = rctx.path(p)
    if bpftool == None:
        fail("bpftool not found (tools/setup installs it from bookworm-backports)")

    rctx.symlink(clang, "bin/clang")
    rctx.symlink(bpftool, "bin/bpftool")
    rctx.symlink(bpf_dir + "/lib/libbpf.a", "lib/libbpf.a")
    rctx.symlink(bpf_dir + "/include/bpf", "include/bpf")
    rctx.symlink(bpf_dir + "/include/scx", "include/scx")

    vmlinux = kernel_dir + "/vmlinux"
    r = rctx.execute([str(bpftool), "btf", "dump", "file", vmlinux, "format", "c"], timeout = 120)
    if r.return_code != 0 or "struct sched_ext_ops" not in r.stdout:
        fail("bpftool btf dump file %s failed or has no sched_ext (run tools/setup):\n%s" %
             (vmlinux, r.stderr))
    rctx.file("vmlinux/vmlinux.h", r.stdout)
    rctx.file("KERNEL", kernel_dir + "\n")

    rctx.file("WORKSPACE", "workspace(name = %r)\n" % rctx.name)
    rctx.file("BUILD", """package(default_visibility = ["//visibility:public"])

exports_files(["bin/clang", "bin/bpftool"])

# Headers for BPF programs: -I roots are include/ (bpf/, scx/) and vmlinux/.
filegroup(
    name = "bpf_headers",
    srcs = glob(["include/bpf/*.h", "include/scx/*.h"]) + ["vmlinux/vmlinux.h"],
)

# User-space libbpf, static. Link with @libelf and @zlib_static (libelf.a and libz.a exist in
# Debian) for a fully static loader.
cc_library(
    name = "libbpf",
    srcs = ["lib/libbpf.a"],
    hdrs = glob(["include/bpf/*.h"]),
    includes = ["include"],
    linkstatic = True,
    deps = ["@libelf", "@zlib_static"],
)

# The sched_ext user-space headers (user_exit_info.h and friends).
cc_library(
    name = "scx_user_headers",
    hdrs = glob(["include/scx/*.h"]),
    includes = ["include"],
)
""")

bpf_toolchain = repository_rule(
    implementation = _bpf_toolchain_impl,
    environ = ["KTSTR_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "PATH"],
    local = True,
)

def _bpf_object_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".bpf.o")
    tc_headers = ctx.files._bpf_headers
    vmlinux_dir = [f for f in tc_headers if f.basename == "vmlinux.h"][0].dirname
    inc_dir = [f for f in tc_headers if f.path.endswith("include/bpf/bpf_helpers.h")][0].dirname
    inc_dir = inc_dir[:-len("/bpf")]
    args = ctx.actions.args()
    args.add_all(BPF_CFLAGS)
    args.add("-I", vmlinux_dir)
    args.add("-I", inc_dir)
    args.add("-I", ".")
    args.add("-I", ctx.bin_dir.path)
    args.add_all(ctx.attr.copts)
    args.add("-c", ctx.file.src)
    args.add("-o", out)
    ctx.actions.run(
        executable = ctx.executable._clang,
        arguments = [args],
        inputs = depset([ctx.file.src] + ctx.files.hdrs + tc_headers),
        outputs = [out],
        mnemonic = "BpfCompile",
        progress_message = "BPF compiling %s" % ctx.file.src.short_path,
    )
    return [DefaultInfo(files = depset([out]), runfiles = ctx.runfiles(files = [out]))]

bpf_object = rule(
    doc = "Compiles one BPF C file with clang -target bpf against the default kernel's vmlinux.h.",
    implementation = _bpf_object_impl,
    attrs = {
        "src": attr.label(allow_single_file = [".bpf.c"], mandatory = True),
        "hdrs": attr.label_list(allow_files = [".h"]),
        "copts": attr.string_list(),
        "_clang": attr.label(default = "@bpf_toolchain//:bin/clang", executable = True,
                             cfg = "exec", allow_single_file = True),
        "_bpf_headers": attr.label(default = "@bpf_toolchain//:bpf_headers"),
    },
)

def _bpf_skeleton_impl(ctx):
    linked = ctx.actions.declare_file(ctx.attr.obj_name + ".bpf.linked.o")
    skel = ctx.actions.declare_file(ctx.attr.obj_name + ".bpf.skel.h")
    bpftool = ctx.executable._bpftool
    # `gen object` runs the BPF static linker (strips DWARF-only sections the skeleton must not
    # embed); the skeleton is generated from its output, as tools/sched_ext's Makefile does.
    ctx.actions.run_shell(
        command = '"$1" gen object "$2" "$3" && "$1" gen skeleton "$2" name "$4" > "$5"',
        arguments = [bpftool.path, linked.path, ctx.file.obj.path, ctx.attr.obj_name, skel.path],
        inputs = [ctx.file.obj],
        tools = [bpftool],
        outputs = [linked, skel],
        mnemonic = "BpfSkeleton",
        progress_message = "BPF skeleton %s" % skel.short_path,
    )
    return [DefaultInfo(files = depset([skel]))]

bpf_skeleton = rule(
    doc = "Generates <obj_name>.bpf.skel.h (a C/C++ libbpf skeleton) from a bpf_object.",
    implementation = _bpf_skeleton_impl,
    attrs = {
        "obj": attr.label(allow_single_file = True, mandatory = True),
        "obj_name": attr.string(mandatory = True),
        "_bpftool": attr.label(default = "@bpf_toolchain//:bin/bpftool", executable = True,
                               cfg = "exec", allow_single_file = True),
    },
)

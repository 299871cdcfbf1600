"""pkg_config(): wraps a Debian system library as a cc_library, offline.

Runs `pkg-config --cflags/--libs` at fetch time. Headers stay in /usr/include (a built-in
include dir of the auto-configured gcc toolchain); non-standard -I dirs are symlinked in.
"""

def _run(rctx, pc, args):
    r = rctx.execute([pc] + args + rctx.attr.modules)
    if r.return_code != 0:
        fail("pkg-config %s %s failed (apt-get install the -dev package; see tools/setup):\n%s" %
             (" ".join(args), " ".join(rctx.attr.modules), r.stderr))
    return [f for f in r.stdout.strip().split(" ") if f]  # Bazel 4: split() needs a separator

def _pkg_config_impl(rctx):
    pc = rctx.which("pkg-config")
    if pc == None:
        fail("pkg-config not found (run tools/setup)")
    defines = []
    includes = []
    for f in _run(rctx, pc, ["--cflags"]):
        if f.startswith("-D"):
            defines.append(f[2:])
        elif f.startswith("-I") and f[2:] not in ["/usr/include", "/usr/local/include"]:
            link = "include_%d" % len(includes)
            rctx.symlink(f[2:], link)
            includes.append(link)
    libs = _run(rctx, pc, ["--libs"] + (["--static"] if rctx.attr.static else []))
    if rctx.attr.whole_archive:
        libs = ["-Wl,--no-as-needed"] + libs + ["-Wl,--as-needed"]
    rctx.file("WORKSPACE", "workspace(name = %r)\n" % rctx.name)
    rctx.file("BUILD", """cc_library(
    name = {name},
    hdrs = glob(["include_*/**/*.h", "include_*/**/*.hpp"]),
    defines = {defines},
    includes = {includes},
    linkopts = {libs},
    visibility = ["//visibility:public"],
)
""".format(
        name = repr(rctx.name),
        defines = defines,
        includes = includes,
        libs = libs + rctx.attr.extra_linkopts,
    ))

pkg_config = repository_rule(
    implementation = _pkg_config_impl,
    attrs = {
        "modules": attr.string_list(mandatory = True),
        "static": attr.bool(default = False),
        "whole_archive": attr.bool(default = False),
        "extra_linkopts": attr.string_list(),
    },
    environ = ["PKG_CONFIG_PATH"],
    local = True,
    configure = True,
)

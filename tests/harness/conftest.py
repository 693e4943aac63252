"""Fixtures for the harness self-tests.

Each test works on a scratch copy of the project (scripts, pins, sums,
and empty series) in a temporary folder, so that the real build/ is never
touched.
Downloads that a test does not mean to exercise are taken from the real
cache, which 'make check' has filled before.
"""

import os
import shutil
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(TOP, "build", "cache")
SPEC_TARBALL = "virtio-spec-15f488c.tar.gz"


def spec_tarball():
    """The pinned spec tarball, from the cache or from ../shared."""
    for d in (CACHE, os.path.join(TOP, "..", "shared", "virtio-spec")):
        p = os.path.join(d, SPEC_TARBALL)
        if os.path.exists(p):
            return p
    subprocess.run([os.path.join(TOP, "scripts", "fetch.sh"), "virtio-spec"],
                   check=True)
    return os.path.join(CACHE, SPEC_TARBALL)


def qemu_sources(base="debian13", version="10.0.13"):
    """The pinned QEMU source package files of a base, downloaded into the
    real cache."""
    subprocess.run([os.path.join(TOP, "scripts", "fetch.sh"), "qemu"],
                   check=True, env=dict(os.environ, BASE=base))
    return sorted(n for n in os.listdir(CACHE)
                  if n.startswith(f"qemu_{version}+"))


class Project:
    def __init__(self, root):
        self.root = root
        shutil.copytree(os.path.join(TOP, "scripts"),
                        os.path.join(root, "scripts"))
        # empty series: the tests make their own commits
        for c in ("qemu", "linux", "virtio-spec", "backport-qemu-10.0",
                  "backport-linux-6.12"):
            os.makedirs(os.path.join(root, "patches", c))
            open(os.path.join(root, "patches", c, "series"), "w").close()
        shutil.copytree(os.path.join(TOP, "pins"), os.path.join(root, "pins"))
        for f in ("SHA256SUMS", "Makefile"):
            shutil.copy(os.path.join(TOP, f), root)
        self.cache = os.path.join(root, "build", "cache")
        os.makedirs(self.cache)
        env = dict(os.environ)
        env["VIRTIO_SPEC_SRC"] = spec_tarball()
        env.pop("FORCE", None)
        for who in ("AUTHOR", "COMMITTER"):
            env[f"GIT_{who}_NAME"] = "harness test"
            env[f"GIT_{who}_EMAIL"] = "test@localhost"
        self.env = env

    def path(self, *p):
        return os.path.join(self.root, *p)

    def run(self, *cmd, check=False, env=None):
        e = dict(self.env)
        for k, v in (env or {}).items():
            # None removes a variable
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run(list(cmd), cwd=self.root, env=e, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=check)

    def script(self, name, *args, **kw):
        return self.run(self.path("scripts", name), *args, **kw)

    def git(self, tree, *args):
        return self.run("git", "-C", self.path("build", tree), *args,
                        check=True).stdout


@pytest.fixture
def project(tmp_path):
    return Project(str(tmp_path / "project"))

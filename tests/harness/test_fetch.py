"""Downloads are pinned and verified: a bad file or a vanished pin stops."""

import os
import shutil

from conftest import CACHE, qemu_sources


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def test_corrupted_spec_tarball_is_refused(project):
    assert project.script("fetch.sh", "virtio-spec").returncode == 0
    tarball = os.path.join(project.cache, "virtio-spec-15f488c.tar.gz")
    flip_byte(tarball, 1000)
    r = project.script("fetch.sh", "virtio-spec")
    assert r.returncode != 0
    assert "checksum mismatch for build/cache/virtio-spec-15f488c.tar.gz" in r.stdout
    # tree.sh fetches first, so it refuses as well, and makes no tree
    r = project.script("tree.sh", "virtio-spec")
    assert r.returncode != 0
    assert "checksum mismatch" in r.stdout
    assert not os.path.exists(project.path("build", "virtio-spec"))


def test_corrupted_qemu_orig_is_refused(project):
    """The cached orig tarball with one byte flipped: 'make tree' stops."""
    names = qemu_sources()
    assert len(names) == 3
    for n in names:
        shutil.copy(os.path.join(CACHE, n), project.cache)
    orig = os.path.join(project.cache, "qemu_10.0.13+ds.orig.tar.xz")
    flip_byte(orig, 123456)
    r = project.run("make", "tree-qemu", env={"BASE": "debian13"})
    assert r.returncode != 0
    assert "checksum mismatch for build/cache/qemu_10.0.13+ds.orig.tar.xz" in r.stdout
    assert "6a0888e806c2ffc0c5f0733e974f9aea55491950d3c47c98669c8b236dde59ae" in r.stdout
    # the damaged file is left for the user to see, not replaced
    assert os.path.exists(orig)
    assert not os.path.exists(project.path("build", "backport-qemu-10.0"))


def test_missing_pin_names_the_pin(project):
    """A version the archive no longer has: stop, name the pin, take nothing."""
    pins = project.path("pins", "debian13")
    with open(pins) as f:
        text = f.read()
    with open(pins, "w") as f:
        f.write(text.replace("QEMU_VERSION=1:10.0.13+ds-0+deb13u1",
                             "QEMU_VERSION=1:10.0.13+ds-0+deb13u99"))
    r = project.script("fetch.sh", "qemu", env={"BASE": "debian13"})
    assert r.returncode != 0
    assert "version 1:10.0.13+ds-0+deb13u99 is not in Debian trixie" in r.stdout
    assert "The pin in pins/debian13 must be bumped" in r.stdout
    assert not [n for n in os.listdir(project.cache) if n.startswith("qemu_")]


def test_downloaded_deb_lands_in_the_cache(project, tmp_path):
    """apt writes the kernel .deb into a scratch folder; fetch.sh moves it
    to build/cache and checks it there (a fake apt-get writes a wrong
    file: the checksum, not the move, must be what stops it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "apt-get"
    fake.write_text("#!/bin/sh\n"
                    "[ \"$1\" = download ] || exec /usr/bin/apt-get \"$@\"\n"
                    "echo not a deb > linux-source-6.12_6.12.117-1_all.deb\n")
    fake.chmod(0o755)
    r = project.script("fetch.sh", "linux", env={
        "BASE": "debian13", "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode != 0
    assert "apt did not write" not in r.stdout
    assert ("checksum mismatch for "
            "build/cache/linux-source-6.12_6.12.117-1_all.deb") in r.stdout

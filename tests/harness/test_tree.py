"""build/<tree>: made from base + series, exported back byte for byte, and
never thrown away while it holds work that patches/ does not."""

import os
import time

import pytest

TREE = "virtio-spec"     # small: the same scripts serve qemu and linux


def make_tree(project, **env):
    return project.script("tree.sh", TREE, env=env)


def commit_change(project, name, text):
    with open(project.path("build", TREE, name), "a") as f:
        f.write(text)
    project.git(TREE, "add", name)
    project.git(TREE, "commit", "-q", "-m", f"edit {name}", "-m",
                "Signed-off-by: harness test <test@localhost>")


def read_patches(project):
    d = project.path("patches", TREE)
    return {n: open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


def rebuild_from_patches(project, count):
    """Throw build/<TREE> away and make it again from patches/."""
    assert make_tree(project, FORCE="1").returncode == 0
    project.run("rm", "-rf", project.path("build", TREE), check=True)
    r = make_tree(project)
    assert r.returncode == 0, r.stdout
    assert f"base + {count} patches applied" in r.stdout


@pytest.fixture
def tree(project):
    r = make_tree(project)
    assert r.returncode == 0, r.stdout
    assert project.git(TREE, "rev-parse", "base") == project.git(TREE, "rev-parse", "HEAD")
    return project


def test_base_commit_is_reproducible(tree, tmp_path):
    first = tree.git(TREE, "rev-parse", "base")
    from conftest import Project
    other = Project(str(tmp_path / "other"))
    assert make_tree(other).returncode == 0
    assert other.git(TREE, "rev-parse", "base") == first


def test_export_round_trip_is_stable(tree):
    commit_change(tree, "README.md", "\nfirst\n")
    commit_change(tree, "content.tex", "\n% second\n")
    assert tree.script("export.sh", TREE).returncode == 0
    exported = read_patches(tree)
    series = exported["series"].decode().split()
    assert series == ["0001-edit-README.md.patch", "0002-edit-content.tex.patch"]
    assert b"\nFrom 0000000000000000000000000000000000000000 " in b"\n" + exported[series[0]]

    # exporting again changes nothing
    assert tree.script("export.sh", TREE).returncode == 0
    assert read_patches(tree) == exported

    # a tree rebuilt from patches/ exports the same bytes
    rebuild_from_patches(tree, 2)
    assert tree.script("export.sh", TREE).returncode == 0
    assert read_patches(tree) == exported


def test_cover_letter_is_exported_and_stable(tree):
    with open(tree.path("patches", TREE, "cover-letter"), "w") as f:
        f.write("Subject-Prefix: PATCH v9\nSubject: the whole story\n\n"
                "Why, point by point.\n")
    commit_change(tree, "README.md", "\nfirst\n")
    commit_change(tree, "content.tex", "\n% second\n")
    assert tree.script("export.sh", TREE).returncode == 0
    exported = read_patches(tree)
    # the cover letter is not a patch quilt or 'git am' should apply
    assert exported["series"].decode().split() == [
        "0001-edit-README.md.patch", "0002-edit-content.tex.patch"]
    cover = exported["0000-cover-letter.patch"].decode()
    assert "Subject: [PATCH v9 0/2] the whole story\n" in cover
    assert "\nWhy, point by point.\n" in cover
    assert "*** " not in cover
    assert "Subject: [PATCH v9 1/2] edit README.md" in \
        exported["0001-edit-README.md.patch"].decode()
    # git dates a cover letter "now": the export must not
    time.sleep(1.1)
    assert tree.script("export.sh", TREE).returncode == 0
    assert read_patches(tree) == exported
    # and the series still applies from patches/
    rebuild_from_patches(tree, 2)


def test_up_to_date_tree_is_left_alone(tree):
    commit_change(tree, "README.md", "\nx\n")
    assert tree.script("export.sh", TREE).returncode == 0
    head = tree.git(TREE, "rev-parse", "HEAD")
    r = make_tree(tree)
    assert r.returncode == 0
    assert "up to date" in r.stdout
    assert tree.git(TREE, "rev-parse", "HEAD") == head


def test_uncommitted_work_is_not_clobbered(tree):
    path = tree.path("build", TREE, "README.md")
    with open(path, "a") as f:
        f.write("\nwork in progress\n")
    r = make_tree(tree)
    assert r.returncode != 0
    assert "has uncommitted changes" in r.stdout
    assert "work in progress" in open(path).read()
    # an untracked new file is work too
    tree.git(TREE, "checkout", "README.md")
    with open(tree.path("build", TREE, "new.tex"), "w") as f:
        f.write("new\n")
    r = make_tree(tree)
    assert r.returncode != 0
    assert os.path.exists(tree.path("build", TREE, "new.tex"))


def test_unexported_commits_are_not_clobbered(tree):
    commit_change(tree, "README.md", "\nnot exported\n")
    head = tree.git(TREE, "rev-parse", "HEAD")
    r = make_tree(tree)
    assert r.returncode != 0
    assert "has commits that are not in patches/virtio-spec" in r.stdout
    assert "make export" in r.stdout
    assert tree.git(TREE, "rev-parse", "HEAD") == head
    # once exported, the same call succeeds and keeps the commit
    assert tree.script("export.sh", TREE).returncode == 0
    assert make_tree(tree).returncode == 0
    assert tree.git(TREE, "rev-parse", "HEAD") == head


def test_force_drops_work(tree):
    commit_change(tree, "README.md", "\nthrow away\n")
    r = make_tree(tree, FORCE="1")
    assert r.returncode == 0
    assert "FORCE=1" in r.stdout
    assert tree.git(TREE, "rev-parse", "HEAD") == tree.git(TREE, "rev-parse", "base")


def test_series_change_is_applied(tree):
    """A new patches/ (a pull) replaces a tree that had the old series."""
    commit_change(tree, "README.md", "\none\n")
    assert tree.script("export.sh", TREE).returncode == 0
    one = read_patches(tree)
    commit_change(tree, "README.md", "\ntwo\n")
    assert tree.script("export.sh", TREE).returncode == 0
    # back to the one-patch series, as a 'git pull' could do
    d = tree.path("patches", TREE)
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))
    for n, data in one.items():
        with open(os.path.join(d, n), "wb") as f:
            f.write(data)
    r = make_tree(tree)
    assert r.returncode == 0, r.stdout
    assert "base + 1 patches applied" in r.stdout
    assert tree.git(TREE, "rev-list", "--count", "base..HEAD").strip() == "1"


def test_no_git_identity(tree, tmp_path):
    """A fresh machine has no git identity anywhere: 'git am' must still
    work (the harness lends its own), and a developer's identity, when
    there is one, is what the tree's commits get."""
    commit_change(tree, "README.md", "\nfrom a developer\n")
    assert tree.script("export.sh", TREE).returncode == 0
    home = tmp_path / "home"
    home.mkdir()
    # no auto-detected identity either (user@host would pass on some hosts)
    gitconfig = home / "gitconfig"
    gitconfig.write_text("[user]\n\tuseConfigOnly = true\n")
    bare = {k: None for k in tree.env
            if k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_")) or k == "EMAIL"}
    bare.update(HOME=str(home), XDG_CONFIG_HOME=str(home),
                GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1")
    tree.run("rm", "-rf", tree.path("build", TREE), check=True)
    r = make_tree(tree, **bare)
    assert r.returncode == 0, r.stdout
    assert "base + 1 patches applied" in r.stdout
    log = tree.run("git", "-C", tree.path("build", TREE), "log", "-1",
                   "--format=%an|%cn", env=bare).stdout.strip()
    assert log == "harness test|qemu-freeze-mode harness", log
    # export needs no identity
    r = tree.run(tree.path("scripts", "export.sh"), TREE, env=bare)
    assert r.returncode == 0, r.stdout


def test_git_am_failure_shows_gits_message(tree):
    commit_change(tree, "README.md", "\nfirst\n")
    assert tree.script("export.sh", TREE).returncode == 0
    patch = tree.path("patches", TREE, "0001-edit-README.md.patch")
    # the patch changes a file the base does not have
    text = open(patch).read().replace("README.md\n", "MISSING.md\n")
    with open(patch, "w") as f:
        f.write(text)
    tree.run("rm", "-rf", tree.path("build", TREE), check=True)
    r = make_tree(tree)
    assert r.returncode != 0
    assert "git said:" in r.stdout
    # git's own words, whatever they are, not a guess of ours
    assert "patch" in r.stdout.split("git said:")[1].lower()


def test_stacked_series_export_to_their_folders(project):
    """A tree made of two series (the pins' QEMU_SERIES, LINUX_SERIES and
    SPEC_SERIES; here the spec's) exports each range to its own folder,
    split at the tag series/<first>, and is made again from them."""
    with open(project.path("pins", "common"), "a") as f:
        f.write('\nSPEC_SERIES="spec-fixes virtio-spec"\n')
    assert make_tree(project).returncode == 0
    commit_change(project, "README.md", "\na fix\n")
    project.git(TREE, "tag", "-f", "series/spec-fixes", "HEAD")
    commit_change(project, "content.tex", "\n% the feature\n")
    r = project.script("export.sh", TREE)
    assert r.returncode == 0, r.stdout
    fixes = open(project.path("patches", "spec-fixes", "series")).read().split()
    feature = open(project.path("patches", TREE, "series")).read().split()
    assert fixes == ["0001-edit-README.md.patch"]
    assert feature == ["0001-edit-content.tex.patch"]
    # made again from the two folders, the tree is the same and up to date
    head = project.git(TREE, "rev-parse", "HEAD")
    r = make_tree(project)
    assert r.returncode == 0 and "up to date" in r.stdout, r.stdout
    assert project.git(TREE, "rev-parse", "HEAD") == head
    assert project.git(TREE, "rev-parse", "series/spec-fixes") == \
        project.git(TREE, "rev-parse", "HEAD~1")
    rebuild_from_patches(project, 2)
    assert project.script("export.sh", TREE).returncode == 0
    assert open(project.path("patches", "spec-fixes", "series")).read().split() == fixes

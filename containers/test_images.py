"""Each image, alone: who it runs as, that it needs no shell and no writable root file system,
that its health check passes, that it shows its own tag, and what it weighs."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

import support
from conftest import REPORT

DISTROLESS = "gcr.io/distroless/cc-debian12:nonroot"
NONROOT = "65532:65532"


# A workspace member that no Dockerfile names, added to a copy of the build context.
NEW_MEMBER = "ctest-new-member"
# 2000-01-01, older than any build.
OLD_TIME = 946684800


@pytest.fixture(scope="module")
def sizes():
    measured: dict[str, str] = {}
    yield measured
    REPORT["image sizes"] = measured


def build_stage(program: str) -> str:
    text = (support.REPO / program / "Dockerfile").read_text()
    start = text.index("FROM rust:")
    return text[start:text.index("\nFROM ", start)]


def test_every_dockerfile_has_the_same_build_stage_naming_no_member():
    """So that the images of one build share it (built once, then a cached layer), and no
    Dockerfile needs an edit when the workspace's members change."""
    stages = {program: build_stage(program) for program in support.PROGRAMS}
    assert len(set(stages.values())) == 1, stages
    stage = stages[support.PROGRAMS[0]]
    assert "--workspace" in stage
    for program in support.PROGRAMS:
        assert program not in stage, f"the build stage names {program}"


@pytest.mark.parametrize("program", support.PROGRAMS)
def test_image_runs_as_the_numeric_nonroot_user_with_an_exec_form_entry_point(images, program):
    config = support.inspect("image", images[program])["Config"]
    assert config["User"] == NONROOT
    # Exec form: the program is PID 1 and gets SIGTERM itself, with no shell in between.
    assert config["Entrypoint"] == [f"/usr/local/bin/{program}"]
    assert f"APP_VERSION={support.TEST_VERSION}" in config["Env"]


@pytest.mark.parametrize("program", support.PROGRAMS)
def test_image_has_no_shell(images, program):
    name = f"voting-app-ctest-shell-{uuid.uuid4().hex[:8]}"
    support.docker("create", "--name", name, "--entrypoint", "/bin/sh", images[program], "-c", "true")
    try:
        started = support.docker("start", name, check=False)
    finally:
        support.docker("rm", "--force", name, check=False)
    assert started.returncode != 0
    assert '"/bin/sh": stat /bin/sh: no such file or directory' in started.stderr, started.stderr


@pytest.mark.parametrize("program", sorted(support.SERVED))
def test_program_starts_read_only_reports_healthy_and_shows_its_tag(images, sizes, program):
    port = support.free_port()
    name = f"voting-app-ctest-{program}-{uuid.uuid4().hex[:8]}"
    support.docker(
        "run", "--detach", "--name", name, "--read-only", "--cap-drop=all",
        "--security-opt=no-new-privileges", "--publish", f"127.0.0.1:{port}:{support.SERVED[program]}",
        images[program],
    )
    try:
        # Redis and PostgreSQL are absent: the program must still run and call itself healthy
        # (SPEC section 1: it never crashes in a loop because a backing service is not up).
        with support.HealthChecks(["--filter", f"name={name}"]):
            support.wait_until(f"{program}'s health check passes",
                               lambda: support.health(name) == "healthy", timeout=90)
        container = support.inspect("container", name)
        assert container["HostConfig"]["ReadonlyRootfs"] is True
        # The process itself, as the host's kernel sees it.
        status = support.process_status(container["State"]["Pid"])
        assert (status["Uid"][1], status["Gid"][1]) == ("65532", "65532")
        build_info = support.wait_until(
            f"{program}'s /metrics answers",
            lambda: support.metric(port, f"{program}_build_info{{"),
            timeout=30,
        )
        assert f'version="{support.TEST_VERSION}"' in build_info
        if program != "worker":
            status, page = support.request(port, "GET", "/")
            assert status == 200
            assert support.TEST_VERSION in page.decode()
    finally:
        support.docker("rm", "--force", name, check=False)
    megabytes = support.own_layers_size(images[program], DISTROLESS) / 1e6
    sizes[program] = f"{megabytes:.1f} MB on top of the base"


def test_loadgen_runs_read_only(images, sizes):
    done = support.docker("run", "--rm", "--read-only", "--cap-drop=all", images["loadgen"], "--help")
    assert "--wait-result" in done.stdout
    megabytes = support.own_layers_size(images["loadgen"], DISTROLESS) / 1e6
    sizes["loadgen"] = f"{megabytes:.1f} MB on top of the base"
    sizes["base (distroless stand-in)"] = f"{support.inspect('image', DISTROLESS)['Size'] / 1e6:.1f} MB"


def test_a_new_workspace_member_needs_no_dockerfile_edit(images, tmp_path):
    """A crate added to the workspace is compiled by the Dockerfiles as they are: their build
    stage builds every member. Only the new crate is compiled: the others are in the build
    cache's target folder."""
    context = tmp_path / "context"
    shutil.copytree(support.REPO, context, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".tools", "target", "node_modules"))
    # cargo tells changed sources by their times, and a fresh clone's are all new, which would
    # recompile every member here even when the images' build was a cached layer. Older than
    # anything in the cache, the members are taken as the cache has them; this build's result
    # is only looked at for the new member.
    for path in context.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (OLD_TIME, OLD_TIME))
    member = context / NEW_MEMBER
    (member / "src").mkdir(parents=True)
    (member / "Cargo.toml").write_text(
        f'[package]\nname = "{NEW_MEMBER}"\nversion.workspace = true\nedition.workspace = true\n')
    (member / "src" / "main.rs").write_text('fn main() {\n    println!("a new member");\n}\n')
    manifest = context / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("members = [", f'members = ["{NEW_MEMBER}", ', 1))
    # The lock file records the new member, as `cargo build` on the host would (the image
    # builds with --locked).
    support.run(["cargo", "metadata", "--format-version", "1"], cwd=context, timeout=300)
    assert f'name = "{NEW_MEMBER}"' in (context / "Cargo.lock").read_text()
    stage = f"localhost/voting-app-ctest/build-stage:{uuid.uuid4().hex[:8]}"
    support.run(["docker", "build", "--file", "vote/Dockerfile", "--target", "build",
                 "--tag", stage, "."], cwd=context, timeout=1800)
    try:
        built = support.docker("run", "--rm", stage, "ls", "/out")
    finally:
        support.docker("image", "rm", stage, check=False)
    assert NEW_MEMBER in built.stdout.split(), built.stdout

"""Each image, alone: who it runs as, that it needs no shell and no writable root file system,
that its health check passes, that it shows its own tag, and what it weighs."""

from __future__ import annotations

import uuid

import pytest

import support
from conftest import REPORT

DISTROLESS = "gcr.io/distroless/cc-debian12:nonroot"
NONROOT = "65532:65532"


@pytest.fixture(scope="module")
def sizes():
    measured: dict[str, str] = {}
    yield measured
    REPORT["image sizes"] = measured


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

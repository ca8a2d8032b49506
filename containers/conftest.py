"""The session's podman, stand-ins and images, shared by every test module here."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import support

# What the session measured, written to target/containers/report.json and shown at the end.
REPORT: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    needed = ("podman", "docker", "debootstrap", "runc", "catatonit") if support.ON_PODMAN else ("docker",)
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(
            f"missing {', '.join(missing)}: `make test-containers` installs them (Debian packages)")


@pytest.fixture(scope="session")
def engine():
    engine = support.Engine()
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def compose_config(engine) -> dict:
    """docker-compose.yml as Compose reads it, with the defaults of every variable."""
    done = support.run([str(support.COMPOSE), "--file", "docker-compose.yml", "config",
                        "--format", "json"], timeout=60)
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def stand_ins(engine, compose_config) -> dict[str, str]:
    """A stand-in for every base image our Dockerfiles and the compose file name, where no
    registry can be reached; returns the references, each mapped to the file that names it."""
    started = time.monotonic()
    named: dict[str, str] = {}
    for program in support.PROGRAMS:
        for base in support.dockerfile_bases(support.REPO / program / "Dockerfile"):
            named[base] = f"{program}/Dockerfile"
    for service, settings in compose_config["services"].items():
        if "build" not in settings:
            named[settings["image"]] = f"docker-compose.yml ({service})"
    if support.K8S.is_dir():
        for reference in support.k8s_images():
            if not reference.startswith("voting-app/"):
                named.setdefault(reference, f"{support.K8S.name}/")
    if support.ON_PODMAN:
        debian = support.ensure_debian()
        # The recipes side by side (they wait on the Debian mirror as much as on the CPU);
        # the references of one recipe one after the other, since they share its context.
        by_recipe: dict[str, list[str]] = {}
        for reference in sorted(named):
            by_recipe.setdefault(support.recipe_of(reference), []).append(reference)

        def ensure(references: list[str]) -> None:
            for reference in references:
                support.ensure_stand_in(reference, debian)

        with ThreadPoolExecutor(max_workers=len(by_recipe)) as pool:
            # list() waits for every build and raises the first failure.
            list(pool.map(ensure, by_recipe.values()))
        REPORT["stand-ins seconds"] = round(time.monotonic() - started)
    else:
        # BuildKit keeps the bases it pulls to itself; the size checks inspect them.
        for reference in sorted(named):
            support.docker("pull", "--quiet", reference, timeout=600)
    return named


@pytest.fixture(scope="session")
def images(stand_ins) -> dict[str, str]:
    """Our four images, built from their Dockerfiles; program -> reference."""
    seconds = {program: round(support.build(program)) for program in support.PROGRAMS}
    REPORT["build seconds"] = seconds
    return {program: support.our_image(program) for program in support.PROGRAMS}


def pytest_terminal_summary(terminalreporter) -> None:
    if not REPORT:
        return
    out = support.REPO / "target" / "containers"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(REPORT, indent=2) + "\n")
    terminalreporter.section("containers: measured")
    for key, value in REPORT.items():
        terminalreporter.write_line(f"{key}: {value}")

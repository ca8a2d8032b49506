"""What the container tests share: the engine, the stand-in base images, our own images, plain
HTTP on the loopback, and the health checks that podman cannot schedule.

The tests speak to the engine only through the `docker` CLI and Compose, so that they run
unchanged against real Docker (CONTAINER_TEST_ENGINE=docker, as on GitHub). By default the
engine is podman's Docker-compatible socket: podman runs with the configuration files beside
this module (handed over through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, so the machine's
own stays as it is) and keeps its store under CACHE, outside any clone, so that a second run
finds the stand-ins and the build layers.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The fixed paths that containers.conf and storage.conf name.
CACHE = Path("/var/cache/voting-app-containers")
RUN_DIR = Path("/run/voting-app-containers")
SOCKET = RUN_DIR / "podman.sock"
STAND_INS = HERE / "stand-ins"
# How long a session waits for another one on the machine: a cold one takes about 20 minutes.
LOCK_WAIT_SECONDS = 3600
# The Kubernetes manifests that `kube play` runs.
K8S = Path(os.environ.get("K8S_DIR", REPO / "k8s"))

PROGRAMS = ("vote", "worker", "result", "loadgen")
# The programs that serve HTTP, and their default ports (SPEC section 1).
SERVED = {"vote": 8080, "result": 8081, "worker": 8082}
# The tag our images get in the test. It differs from the crates' version on purpose: a program
# that shows it can only have it from the image.
TEST_VERSION = "0.1.0-containers"
COMPOSE = REPO / ".tools" / "venv" / "bin" / "docker-compose"
# podman here; `docker` where a real Docker engine runs (and pulls the real base images).
ON_PODMAN = os.environ.get("CONTAINER_TEST_ENGINE", "podman") == "podman"

# The recipe of each stand-in, by the repository part of the reference our files use.
RECIPES = {
    "docker.io/library/rust": "rust",
    "gcr.io/distroless/cc-debian12": "distroless",
    "docker.io/library/redis": "redis",
    "docker.io/library/postgres": "postgres",
}
# Every recipe starts from this image: a debootstrap of Debian bookworm.
DEBIAN = "localhost/voting-app-stand-in/debian:bookworm"
DEBOOTSTRAP = ["--variant=minbase", "--include=ca-certificates", "bookworm"]
RECIPE_LABEL = "org.voting-app.stand-in.recipe"


class CommandFailed(AssertionError):
    pass


def environment() -> dict[str, str]:
    """The environment every podman, docker and compose command of the tests runs in."""
    env = dict(os.environ)
    if ON_PODMAN:
        env.update(
            CONTAINERS_CONF=str(HERE / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(HERE / "storage.conf"),
            DOCKER_HOST=f"unix://{SOCKET}",
        )
    return env


def run(
    args: list[str],
    *,
    timeout: float,
    check: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    """Runs a command to its end, its output captured; a failure shows both streams."""
    done = subprocess.run(
        args,
        cwd=cwd,
        env=env or environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise CommandFailed(
            f"{' '.join(args)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["podman", *args], timeout=timeout, check=check)


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["docker", *args], timeout=timeout, check=check)


def inspect(kind: str, name: str) -> dict:
    return json.loads(docker(kind, "inspect", name).stdout)[0]


def process_status(pid: int) -> dict[str, list[str]]:
    """A container's process as the host's kernel has it (/proc/PID/status: ids, capabilities)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {line.split(":", 1)[0]: line.split()[1:] for line in lines}


def wait_until(what: str, predicate: Callable[[], object], timeout: float, every: float = 0.5):
    """Polls `predicate` until it returns something true, and returns that."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (OSError, http.client.HTTPException, CommandFailed, ValueError) as err:
            last_error = err
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s (last error: {last_error})")


# --- The engine ----------------------------------------------------------------------------


class Engine:
    """podman's Docker-compatible API on SOCKET, for the docker CLI and Compose.

    It runs niced: every build and container it starts inherits that, so the tests leave the
    machine's two cores to whoever else needs them first."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.lock: IO[bytes] | None = None

    def start(self) -> None:
        if not ON_PODMAN:
            wait_until("Docker answers", self.answers, timeout=30)
            return
        for path in (CACHE / "tmp", CACHE / "networks", RUN_DIR):
            path.mkdir(parents=True, exist_ok=True)
        self.take_lock()
        # containers.conf names this copy: a config file cannot name a path inside a clone.
        shutil.copyfile(HERE / "hosts", CACHE / "hosts")
        SOCKET.unlink(missing_ok=True)
        # The last session's log only.
        self.log = open(CACHE / "podman-service.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            ["nice", "-n", "10", "podman", "system", "service", "--time=0", f"unix://{SOCKET}"],
            env=environment(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until("podman's socket answers", self.answers, timeout=30, every=0.2)

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"podman system service exited {self.process.returncode}")
        return docker("version", timeout=10, check=False).returncode == 0

    def take_lock(self) -> None:
        """One session at a time on the machine: every clone's test uses the same socket, store,
        project and network names, and one session's end would stop another's engine."""
        self.lock = open(CACHE / "session.lock", "wb")  # noqa: SIM115 (closed in stop)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        told = False
        while True:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"another container test held {CACHE / 'session.lock'} for "
                        f"{LOCK_WAIT_SECONDS} s") from None
                if not told:
                    print(f"waiting for another container test on this machine to finish "
                          f"({CACHE / 'session.lock'})", file=sys.__stderr__, flush=True)
                    told = True
                time.sleep(5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.log.close()
        if self.lock is not None:
            self.lock.close()


# --- Stand-in base images ------------------------------------------------------------------


def normalized(reference: str) -> str:
    """A reference as podman stores it: with its registry and, on Docker Hub, `library/`."""
    first = reference.split("/", 1)[0]
    if "/" not in reference:
        return f"docker.io/library/{reference}"
    if "." in first or ":" in first or first == "localhost":
        return reference
    return f"docker.io/{reference}"


def repository(reference: str) -> str:
    name = normalized(reference)
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def digest(parts: Iterable[bytes]) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()[:16]


def recipe_files(recipe: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(recipe.rglob("*")) if path.is_file()]


def current(reference: str, key: str) -> bool:
    """The stand-in exists and was built from this very recipe."""
    found = docker("image", "inspect", reference, check=False)
    if found.returncode != 0:
        return False
    labels = json.loads(found.stdout)[0].get("Config", {}).get("Labels") or {}
    return labels.get(RECIPE_LABEL) == key


def debian_mirror() -> str:
    """The machine's own Debian mirror, so that no host name is written down here."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        words = line.split()
        if words[:1] == ["deb"]:
            return next(word for word in words[1:] if "://" in word)
    raise AssertionError("no Debian mirror in /etc/apt/sources.list.d/debian.sources or sources.list")


def ensure_debian() -> str:
    """The debootstrap of Debian that every recipe starts from; returns its image id."""
    key = digest(arg.encode() for arg in DEBOOTSTRAP)
    if not current(DEBIAN, key):
        rootfs = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE))
        try:
            run(
                ["nice", "-n", "10", "debootstrap", *DEBOOTSTRAP, str(rootfs), debian_mirror()],
                timeout=900,
            )
            # Package lists and downloads are dead weight in a base image.
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (rootfs / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(
                ["podman", "import", "--change", 'CMD ["bash"]',
                 "--change", f"LABEL {RECIPE_LABEL}={key}", "-", DEBIAN],
                stdin=tar.stdout, env=environment(), capture_output=True, text=True, timeout=600,
            )
            tar.wait(timeout=60)
            if imported.returncode != 0 or tar.returncode != 0:
                raise CommandFailed(f"podman import of the debootstrap failed: {imported.stderr}")
        finally:
            shutil.rmtree(rootfs, ignore_errors=True)
    return inspect("image", DEBIAN)["Id"]


def stage_rust_context(recipe: Path) -> tuple[Path, list[bytes]]:
    """The rust stand-in's build context: its recipe, this machine's toolchain and root
    certificates. Hard links where the file system allows, so staging copies nothing."""
    context = CACHE / "context-rust"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(recipe, context)
    sysroot = Path(run(["rustc", "--print", "sysroot"], timeout=30).stdout.strip())
    for part in ("bin", "lib", "libexec", "etc"):
        if (sysroot / part).exists():
            shutil.copytree(sysroot / part, context / "toolchain" / part, copy_function=link_or_copy)
    roots = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
    shutil.copyfile(roots, context / "roots.pem")
    version = run(["rustc", "-vV"], timeout=30).stdout.encode()
    return context, [version, (context / "roots.pem").read_bytes()]


def link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def recipe_of(reference: str) -> str:
    name = RECIPES.get(repository(reference))
    if name is None:
        raise AssertionError(f"{reference}: no stand-in recipe for it in {STAND_INS}")
    return name


def ensure_stand_in(reference: str, debian_id: str) -> None:
    """Builds the stand-in for `reference` unless the one there is from the same recipe."""
    name = recipe_of(reference)
    recipe = STAND_INS / name
    context, inputs = (stage_rust_context(recipe) if name == "rust" else (recipe, []))
    key = digest([debian_id.encode(), *recipe_files(recipe), *inputs])
    if not current(normalized(reference), key):
        podman("build", "--pull=never", "--layers", "--label", f"{RECIPE_LABEL}={key}",
               "--tag", normalized(reference), str(context), timeout=1800)


def k8s_documents() -> list[dict]:
    """Every object of the manifests in K8S, in the order `kubectl apply -f` reads them."""
    return [document for path in sorted(K8S.glob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text()) if document]


def k8s_images() -> set[str]:
    return {container["image"]
            for document in k8s_documents() if document["kind"] in ("Deployment", "StatefulSet")
            for container in document["spec"]["template"]["spec"]["containers"]}


# --- Our images ----------------------------------------------------------------------------


def our_image(program: str, version: str = TEST_VERSION) -> str:
    return f"voting-app/{program}:{version}"


def dockerfile_bases(dockerfile: Path) -> set[str]:
    """The images a Dockerfile starts from (its `FROM`s that are not its own stages)."""
    stages: set[str] = set()
    bases: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if words[:1] != ["FROM"]:
            continue
        image = next(word for word in words[1:] if not word.startswith("--"))
        if image not in stages:
            bases.add(image)
        if len(words) >= 4 and words[-2].upper() == "AS":
            stages.add(words[-1])
    return bases


def build(program: str, version: str = TEST_VERSION) -> float:
    """Builds `program`'s image from its Dockerfile through the docker CLI; returns seconds."""
    started = time.monotonic()
    docker("build", "--file", f"{program}/Dockerfile", "--build-arg", f"APP_VERSION={version}",
           "--tag", our_image(program, version), ".", timeout=3600)
    return time.monotonic() - started


def own_layers_size(image: str, base: str) -> int:
    """Bytes that `image` adds to its base image: our binary and our settings."""
    return inspect("image", image)["Size"] - inspect("image", base)["Size"]


# --- Networking on the loopback ------------------------------------------------------------


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One HTTP request to 127.0.0.1:port, never to a container's own address."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def vote(port: int, option: str) -> int:
    """A ballot as the page's form posts it, from a new voter; returns the status."""
    status, _ = request(port, "POST", "/", f"vote={option}".encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    return status


def results(port: int) -> dict[str, int]:
    status, body = request(port, "GET", "/api/results")
    if status != 200:
        raise ValueError(f"/api/results answered {status}")
    return json.loads(body)["counts"]


def metric(port: int, line_start: str) -> str | None:
    """The first line of `/metrics` that starts with `line_start`."""
    status, body = request(port, "GET", "/metrics")
    if status != 200:
        raise ValueError(f"/metrics answered {status}")
    return next((line for line in body.decode().splitlines() if line.startswith(line_start)), None)


def redis_command(port: int, *words: str) -> list[str]:
    """A command to Redis on 127.0.0.1:port; the flat reply as strings (enough for CONFIG GET)."""
    frame = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(frame.encode())
        reply = connection.makefile("rb")
        head = reply.readline().decode().strip()
        if not head.startswith("*"):
            raise ValueError(f"Redis answered {head}")
        values = []
        for _ in range(int(head[1:])):
            length = int(reply.readline().decode().strip()[1:])
            values.append(reply.read(length + 2)[:-2].decode())
        return values


# --- Health checks -------------------------------------------------------------------------


def health(container: str) -> str | None:
    """The container's health: starting, healthy or unhealthy (None when it has no check)."""
    state = inspect("container", container)["State"]
    return (state.get("Health") or {}).get("Status")


class HealthChecks:
    """On podman, runs the health checks of the containers that `filter_args` selects, every
    `every` seconds, with `podman healthcheck run`: podman schedules them through systemd
    timers, and there is no systemd here. Compose's `service_healthy` start order and `--wait`
    then work as they do with Docker, which runs the checks itself (there this does nothing)."""

    def __init__(self, filter_args: list[str], every: float = 2.0) -> None:
        self.filter_args = filter_args
        self.every = every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="healthchecks", daemon=True)

    def __enter__(self) -> HealthChecks:
        if ON_PODMAN:
            self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=60)

    def loop(self) -> None:
        while not self.stopping.wait(self.every):
            listed = podman("ps", *self.filter_args, "--format", "{{.ID}} {{.Status}}", check=False)
            for line in listed.stdout.splitlines():
                container, _, status = line.partition(" ")
                # Only containers that have a check show a health state in their status.
                if "(" in status:
                    podman("healthcheck", "run", container, check=False, timeout=30)

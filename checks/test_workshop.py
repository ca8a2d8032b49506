"""docs/WORKSHOP.md only shows commands the kind workflow runs, and the kind cluster it creates
reaches the ports the manifests publish."""

import re

import yaml

from checks import manifests

WORKSHOP = manifests.REPOSITORY / "docs" / "WORKSHOP.md"
KIND_WORKFLOW = manifests.REPOSITORY / ".github" / "workflows" / "kind.yml"
KIND_CLUSTER = manifests.EXAMPLES / "kind" / "cluster.yaml"


def workshop_commands(text):
    """The command lines of the ```sh blocks, without comments and blank lines."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def workflow_lines():
    workflow = yaml.safe_load(KIND_WORKFLOW.read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    return [line.strip() for step in steps for line in step.get("run", "").splitlines()]


def runs(command, line):
    """Whether `line` runs `command` whole: alone, or inside `$(...)`, a pipeline, `test ...`,
    but not as the start of a longer word (`deployment/vote` inside `deployment/vote2`)."""
    return re.search(r"(^|[\s($`])" + re.escape(command) + r"($|[\s)|;&\"`])", line) is not None


def test_every_workshop_command_runs_in_the_kind_workflow_in_order():
    lines = workflow_lines()
    position = 0
    for command in workshop_commands(WORKSHOP.read_text()):
        later = [i for i, line in enumerate(lines) if runs(command, line) and i >= position]
        assert later, f"the kind workflow does not run, after the previous one: {command}"
        position = later[0]


def test_a_longer_command_is_not_the_same_command():
    assert runs("kubectl rollout undo deployment/vote", "kubectl rollout undo deployment/vote")
    assert runs("docker wait votes", 'test "$(docker wait votes)" = 0')
    assert not runs("kubectl rollout undo deployment/vote", "kubectl rollout undo deployment/vote2")
    assert not runs("kind load docker-image x", "echo kind load docker-image x.tar")


def test_the_check_reads_the_commands_of_every_block():
    text = "```sh\nkubectl get pods   # comment\n# only a comment\n\n```\nprose\n```sh\nls\n```\n"
    assert workshop_commands(text) == ["kubectl get pods", "ls"]
    assert len(workshop_commands(WORKSHOP.read_text())) > 30


def test_the_kind_cluster_maps_the_node_ports_and_the_ingress_port(applied_once):
    cluster = yaml.safe_load(KIND_CLUSTER.read_text())
    mapped = {
        (mapping["containerPort"], mapping["hostPort"])
        for node in cluster["nodes"]
        for mapping in node.get("extraPortMappings") or []
    }
    node_ports = {
        port["nodePort"]
        for service in manifests.of_kind(applied_once, "Service")
        for port in service["spec"]["ports"]
        if "nodePort" in port
    }
    assert node_ports == {31000, 31001}
    assert {(port, port) for port in node_ports | {80}} <= mapped

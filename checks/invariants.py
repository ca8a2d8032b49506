"""What a schema cannot check about the manifests: how the objects refer to each other and to
the programs. Each check takes the objects (as `kubectl apply` would send them) and returns its
problems, one readable line each; no problem is an empty list.
"""

import re
from urllib.parse import parse_qs, urlsplit

from checks.manifests import (
    PROGRAMS,
    WORKLOAD_KINDS,
    containers,
    describe,
    environment_list,
    identity,
    image_list,
    of_kind,
    pod_template,
    program_of,
    workspace_version,
)
from checks.netpol import selects

# Labels that would go stale under `kubectl set image`, so no selector may use them.
VERSION_LABELS = ("version", "app.kubernetes.io/version")
# SPEC section 6: a program exits within this long of SIGTERM.
STOP_BOUND_SECONDS = 10
# Kubernetes' default terminationGracePeriodSeconds.
DEFAULT_GRACE_SECONDS = 30


def same_objects(applied, kustomized):
    """`apply -f` and `apply -k` send the same objects, field for field."""
    by_identity = {identity(obj): obj for obj in applied}
    kustomized_by_identity = {identity(obj): obj for obj in kustomized}
    problems = []
    for key in sorted(by_identity.keys() - kustomized_by_identity.keys()):
        problems.append(f"only in apply -f: {describe(by_identity[key])}")
    for key in sorted(kustomized_by_identity.keys() - by_identity.keys()):
        problems.append(f"only in apply -k: {describe(kustomized_by_identity[key])}")
    for key in sorted(by_identity.keys() & kustomized_by_identity.keys()):
        if by_identity[key] != kustomized_by_identity[key]:
            problems.append(f"differs between apply -f and -k: {describe(by_identity[key])}")
    if len(applied) != len(by_identity):
        problems.append("apply -f sends an object twice")
    return problems


def namespace_first(objects):
    """The namespace exists before anything is created in it."""
    if not objects or objects[0].get("kind") != "Namespace":
        first = describe(objects[0]) if objects else "nothing"
        return [f"the first object is {first}, not the Namespace"]
    return []


def workloads(objects):
    return of_kind(objects, *WORKLOAD_KINDS)


def in_namespace(obj, namespace):
    return obj["metadata"].get("namespace", "default") == namespace


def selected_workloads(objects, selector, namespace):
    """The workloads of `namespace` whose pod template labels `selector` matches."""
    return [
        workload
        for workload in workloads(objects)
        if in_namespace(workload, namespace)
        and selects(selector, pod_template(workload)["metadata"].get("labels") or {})
    ]


def version_keys(selector):
    keys = set((selector.get("matchLabels") or {}).keys())
    keys |= {expression["key"] for expression in selector.get("matchExpressions") or []}
    keys |= {key for key in selector if key not in ("matchLabels", "matchExpressions")}
    return sorted(keys & set(VERSION_LABELS))


def selectors(objects, shared_services=()):
    """Every Service, PodDisruptionBudget and workload selector selects the pods of exactly
    one workload (a Service named in `shared_services`, of at least one: two versions behind
    one Service, by design), a workload's own selector matches its template's labels, and no
    selector names a version. A Job's selector is the one Kubernetes generates for it."""
    problems = []
    for service in of_kind(objects, "Service"):
        # A Service's selector is a plain map of labels.
        selector = {"matchLabels": service["spec"].get("selector") or {}}
        if service["metadata"]["name"] in shared_services:
            problems += at_least_one(objects, service, selector)
        else:
            problems += exactly_one(objects, service, selector)
        problems += no_version(service, service["spec"].get("selector") or {})
    for budget in of_kind(objects, "PodDisruptionBudget"):
        selector = budget["spec"].get("selector") or {}
        problems += exactly_one(objects, budget, selector)
        problems += no_version(budget, selector)
    for workload in workloads(objects):
        if workload["kind"] == "Job" and not workload["spec"].get("manualSelector"):
            continue
        selector = workload["spec"].get("selector") or {}
        labels = pod_template(workload)["metadata"].get("labels") or {}
        if not selects(selector, labels):
            problems.append(f"{describe(workload)}: its selector does not match its pod labels")
        problems += no_version(workload, selector)
        problems += exactly_one(objects, workload, selector)
    return problems


def exactly_one(objects, obj, selector):
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [f"{describe(obj)}: an empty selector selects every pod"]
    namespace = obj["metadata"].get("namespace", "default")
    matched = selected_workloads(objects, selector, namespace)
    if len(matched) != 1:
        names = ", ".join(describe(w) for w in matched) or "none"
        return [f"{describe(obj)}: selects the pods of {len(matched)} workloads ({names})"]
    return []


def at_least_one(objects, obj, selector):
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [f"{describe(obj)}: an empty selector selects every pod"]
    namespace = obj["metadata"].get("namespace", "default")
    if not selected_workloads(objects, selector, namespace):
        return [f"{describe(obj)}: selects the pods of no workload"]
    return []


def no_version(obj, selector):
    return [f"{describe(obj)}: its selector uses {key}" for key in version_keys(selector)]


def container_ports(workload):
    """(number, protocol) by name and by number, of the workload's containers."""
    ports = {}
    for container in pod_template(workload)["spec"].get("containers") or []:
        for port in container.get("ports") or []:
            value = (port["containerPort"], port.get("protocol", "TCP"))
            ports[port["containerPort"]] = value
            if "name" in port:
                ports[port["name"]] = value
    return ports


def effective_port(program, container):
    """The port `program` listens on in `container`: its PORT, else the program's default."""
    for variable in container.get("env") or []:
        if variable["name"] == "PORT" and "value" in variable:
            return int(variable["value"])
    default = environment_list(program).get("PORT", {}).get("default")
    return None if default is None else int(default)


def ports(objects):
    """Every Service targetPort and Ingress backend leads to a port something listens on, and
    every port our programs' containers declare is the one the program listens on."""
    problems = []
    for service in of_kind(objects, "Service"):
        selector = {"matchLabels": service["spec"].get("selector") or {}}
        namespace = service["metadata"].get("namespace", "default")
        for workload in selected_workloads(objects, selector, namespace):
            declared = container_ports(workload)
            for port in service["spec"].get("ports") or []:
                target = port.get("targetPort", port["port"])
                if target not in declared:
                    problems.append(
                        f"{describe(service)}: targetPort {target} is no port of "
                        f"{describe(workload)}"
                    )
    for ingress in of_kind(objects, "Ingress"):
        for backend in ingress_backends(ingress):
            problems += backend_problems(objects, ingress, backend)
    for route in of_kind(objects, "HTTPRoute"):
        problems += route_problems(objects, route)
    for workload in workloads(objects):
        for container in containers(workload):
            program = program_of(container.get("image", ""))
            if program is None:
                continue
            listens = effective_port(program, container)
            for port in container.get("ports") or []:
                if port["containerPort"] != listens:
                    problems.append(
                        f"{describe(workload)}: container {container['name']} declares port "
                        f"{port['containerPort']}, but {program} listens on {listens}"
                    )
    return problems


def ingress_backends(ingress):
    spec = ingress["spec"]
    if "defaultBackend" in spec:
        yield spec["defaultBackend"]
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            yield path["backend"]


def backend_problems(objects, ingress, backend):
    if "service" not in backend:
        return []
    name = backend["service"]["name"]
    wanted = backend["service"]["port"]
    namespace = ingress["metadata"].get("namespace", "default")
    services = [
        s for s in of_kind(objects, "Service") if s["metadata"]["name"] == name
        and in_namespace(s, namespace)
    ]
    if not services:
        return [f"{describe(ingress)}: no Service {name}"]
    for port in services[0]["spec"].get("ports") or []:
        if wanted.get("name") == port.get("name") or wanted.get("number") == port["port"]:
            return []
    return [f"{describe(ingress)}: Service {name} has no port {wanted}"]


def route_problems(objects, route):
    """A Gateway API HTTPRoute's Gateways and their listeners exist, and each backend is a
    Service port, by number as the API requires."""
    namespace = route["metadata"].get("namespace", "default")
    problems = []
    gateways = {
        (g["metadata"].get("namespace", "default"), g["metadata"]["name"]): g
        for g in of_kind(objects, "Gateway")
    }
    for parent in route["spec"].get("parentRefs") or []:
        gateway = gateways.get((parent.get("namespace", namespace), parent["name"]))
        if gateway is None:
            problems.append(f"{describe(route)}: no Gateway {parent['name']}")
            continue
        listeners = {listener["name"] for listener in gateway["spec"].get("listeners") or []}
        if "sectionName" in parent and parent["sectionName"] not in listeners:
            problems.append(f"{describe(route)}: Gateway {parent['name']} has no listener "
                            f"{parent['sectionName']}")
    for rule in route["spec"].get("rules") or []:
        for backend in rule.get("backendRefs") or []:
            if backend.get("kind", "Service") != "Service":
                continue
            wanted = {"service": {"name": backend["name"], "port": {"number": backend.get("port")}}}
            problems += backend_problems(objects, route, wanted)
    return problems


def probes(objects):
    """(program, path, description) for every HTTP probe of our programs' containers, and the
    problems of probes whose port is not the one the program listens on."""
    found, problems = [], []
    for workload in workloads(objects):
        declared = container_ports(workload)
        for container in containers(workload):
            program = program_of(container.get("image", ""))
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = container.get(kind) or {}
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    if handler not in probe:
                        continue
                    where = f"{describe(workload)} {kind}"
                    port = probe[handler]["port"]
                    number = declared.get(port, (port, "TCP"))[0]
                    if isinstance(number, str):
                        problems.append(f"{where}: port {port} is no port of a container")
                        continue
                    if program is None:
                        continue
                    listens = effective_port(program, container)
                    if number != listens:
                        problems.append(f"{where}: port {number}, but {program} listens on {listens}")
                    if handler == "httpGet":
                        found.append((program, probe["httpGet"].get("path", "/"), where))
    return found, problems


def password_in_url(text):
    """Whether `text` is a URL or DSN that carries a password."""
    parts = urlsplit(text)
    if parts.scheme and parts.password:
        return True
    if "password" in {key.lower() for key in parse_qs(parts.query)}:
        return True
    return re.search(r"(^|\s)password\s*=", text, re.IGNORECASE) is not None


def environment(objects):
    """Every variable set on our programs' containers is one the program reads (from its
    <crate>/environment.json), APP_VERSION is never set, every ConfigMap, Secret and key
    referenced exists, no `$(VAR)` expansion is used, and no password sits in a ConfigMap or
    an environment value."""
    problems = []
    config_maps = {
        (c["metadata"].get("namespace", "default"), c["metadata"]["name"]): c
        for c in of_kind(objects, "ConfigMap")
    }
    secrets = {
        (s["metadata"].get("namespace", "default"), s["metadata"]["name"]): s
        for s in of_kind(objects, "Secret")
    }
    secret_values = {
        value
        for secret in secrets.values()
        for value in list((secret.get("stringData") or {}).values())
        + list((secret.get("data") or {}).values())
    }
    for config_map in config_maps.values():
        for key, value in (config_map.get("data") or {}).items():
            if password_problem(key, value, secret_values):
                problems.append(f"{describe(config_map)}: {key} holds a password")
    for workload in workloads(objects):
        namespace = workload["metadata"].get("namespace", "default")
        spec = pod_template(workload)["spec"]
        for volume in spec.get("volumes") or []:
            problems += volume_problems(workload, volume, namespace, config_maps, secrets)
        for container in containers(workload):
            where = f"{describe(workload)} container {container['name']}"
            program = program_of(container.get("image", ""))
            reads = environment_list(program) if program else None
            for text in (container.get("command") or []) + (container.get("args") or []):
                if "$(" in str(text):
                    problems.append(f"{where}: $(...) in its command (podman does not expand it)")
            for source in container.get("envFrom") or []:
                problems += env_from_problems(where, source, namespace, config_maps, secrets)
            for variable in container.get("env") or []:
                name = variable["name"]
                if reads is not None and name not in reads:
                    problems.append(f"{where}: sets {name}, which {program} does not read")
                if name == "APP_VERSION":
                    problems.append(f"{where}: sets APP_VERSION, which the image owns")
                if "value" in variable:
                    value = str(variable["value"])
                    if "$(" in value:
                        problems.append(f"{where}: {name} uses $(...), which podman leaves as is")
                    if password_problem(name, value, secret_values):
                        problems.append(f"{where}: {name} holds a password")
                reference = variable.get("valueFrom") or {}
                problems += reference_problems(where, reference, namespace, config_maps, secrets)
    return problems


def password_problem(name, value, secret_values):
    if value in secret_values:
        return True
    if "PASSWORD" in name.upper() and not name.upper().endswith("_FILE") and value:
        return True
    return password_in_url(value)


def reference_problems(where, reference, namespace, config_maps, secrets):
    for kind, objects in (("configMapKeyRef", config_maps), ("secretKeyRef", secrets)):
        if kind not in reference:
            continue
        ref = reference[kind]
        target = objects.get((namespace, ref["name"]))
        if target is None:
            if not ref.get("optional"):
                return [f"{where}: {kind} to {ref['name']}, which does not exist"]
            return []
        if ref["key"] not in keys_of(target) and not ref.get("optional"):
            return [f"{where}: {kind} to {ref['name']} key {ref['key']}, which it lacks"]
    return []


def env_from_problems(where, source, namespace, config_maps, secrets):
    for kind, objects in (("configMapRef", config_maps), ("secretRef", secrets)):
        if kind in source and (namespace, source[kind]["name"]) not in objects:
            if not source[kind].get("optional"):
                return [f"{where}: envFrom {source[kind]['name']}, which does not exist"]
    return []


def volume_problems(workload, volume, namespace, config_maps, secrets):
    for kind, name_key, objects in (
        ("configMap", "name", config_maps),
        ("secret", "secretName", secrets),
    ):
        if kind not in volume:
            continue
        source = volume[kind]
        target = objects.get((namespace, source[name_key]))
        if target is None:
            if source.get("optional"):
                return []
            return [f"{describe(workload)}: volume {volume['name']} needs {source[name_key]}"]
        missing = [i["key"] for i in source.get("items") or [] if i["key"] not in keys_of(target)]
        return [
            f"{describe(workload)}: volume {volume['name']}: {source[name_key]} lacks key {key}"
            for key in missing
        ]
    return []


def keys_of(obj):
    return set(obj.get("data") or {}) | set(obj.get("stringData") or {}) | set(
        obj.get("binaryData") or {}
    )


def behind_a_service(objects, workload):
    namespace = workload["metadata"].get("namespace", "default")
    return any(
        workload in selected_workloads(objects, {"matchLabels": s["spec"]["selector"]}, namespace)
        for s in of_kind(objects, "Service")
        if s["spec"].get("selector")
    )


def stopping(objects):
    """Our programs behind a Service stop after a preStop sleep (the time the endpoints take to
    drop the pod), the grace period covers that sleep plus SPEC 6's stop bound, and a program
    that waits behind a preStop sleep does no drain of its own."""
    problems = []
    for workload in workloads(objects):
        spec = pod_template(workload)["spec"]
        served = behind_a_service(objects, workload)
        grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
        for container in spec.get("containers") or []:
            program = program_of(container.get("image", ""))
            if program is None:
                continue
            pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
            sleep = (pre_stop.get("sleep") or {}).get("seconds", 0)
            if served and not sleep:
                problems.append(f"{describe(workload)}: behind a Service, but no preStop sleep")
            if grace < sleep + STOP_BOUND_SECONDS:
                problems.append(
                    f"{describe(workload)}: grace {grace} s < preStop {sleep} s + "
                    f"{STOP_BOUND_SECONDS} s"
                )
            drain = {v["name"]: v.get("value") for v in container.get("env") or []}.get(
                "SHUTDOWN_DRAIN_SECONDS"
            )
            if sleep and "SHUTDOWN_DRAIN_SECONDS" in environment_list(program) and drain != "0":
                problems.append(
                    f"{describe(workload)}: preStop sleeps, so SHUTDOWN_DRAIN_SECONDS must be 0"
                )
    return problems


def autoscaling(objects):
    """Every HorizontalPodAutoscaler's and KEDA ScaledObject's target exists, sets no replica
    count (the autoscaler owns it), and requests CPU in every container when CPU is a metric;
    no workload has two autoscalers."""
    problems = []
    owners = {}
    for autoscaler in of_kind(objects, "HorizontalPodAutoscaler", "ScaledObject"):
        # A ScaledObject's target is a Deployment unless it says otherwise.
        target = {"kind": "Deployment", **autoscaler["spec"]["scaleTargetRef"]}
        namespace = autoscaler["metadata"].get("namespace", "default")
        owners.setdefault((namespace, target["kind"], target["name"]), []).append(autoscaler)
        matches = [
            w
            for w in workloads(objects)
            if w["kind"] == target["kind"]
            and w["metadata"]["name"] == target["name"]
            and in_namespace(w, namespace)
        ]
        if not matches:
            problems.append(f"{describe(autoscaler)}: no {target['kind']} {target['name']}")
            continue
        workload = matches[0]
        if "replicas" in workload["spec"]:
            problems.append(f"{describe(workload)}: sets replicas, which its autoscaler owns")
        if len(owners[(namespace, target["kind"], target["name"])]) == 2:
            problems.append(f"{describe(workload)}: two autoscalers")
        uses_cpu = any(
            (metric.get("resource") or {}).get("name") == "cpu"
            for metric in autoscaler["spec"].get("metrics") or []
        ) or any(trigger.get("type") == "cpu" for trigger in autoscaler["spec"].get("triggers") or [])
        for container in pod_template(workload)["spec"].get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            if uses_cpu and "cpu" not in requests:
                problems.append(
                    f"{describe(workload)}: container {container['name']} requests no CPU, "
                    "which its autoscaler's utilisation is a share of"
                )
    return problems


def manifest_images(objects):
    return {
        container["image"] for workload in workloads(objects) for container in containers(workload)
    }


def images_of_k8s(objects, listed):
    """k8s/ uses only listed images; ours carry the workspace version, the backing services'
    an exact one."""
    problems = [
        f"k8s/ uses {image}, which checks/images.txt does not list"
        for image in sorted(manifest_images(objects) - set(listed))
    ]
    version = workspace_version()
    for image in sorted(listed):
        if program_of(image) is not None:
            if not image.endswith(f":{version}"):
                problems.append(f"{image}: our images carry the workspace version {version}")
        elif not re.search(r":v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$|@sha256:[0-9a-f]{64}$", image):
            problems.append(f"{image}: a backing service's image needs an exact version")
    return problems


def images_of_compose(compose, listed, objects):
    """The compose file uses only listed images, and every listed image is used by k8s/ or
    the compose file."""
    problems = [
        f"compose service {service} uses {image}, which checks/images.txt does not list"
        for service, image in sorted(compose.items())
        if image not in listed
    ]
    unused = set(listed) - manifest_images(objects) - set(compose.values())
    problems += [f"checks/images.txt lists {image}, which nothing uses" for image in sorted(unused)]
    return problems


def programs_covered(objects):
    """Every program that runs as a service (vote, worker, result) has a workload."""
    running = {
        program_of(container.get("image", ""))
        for workload in workloads(objects)
        for container in containers(workload)
    }
    return [f"no workload runs {p}" for p in PROGRAMS if p != "loadgen" and p not in running]


def pod_names(objects):
    """SPEC 1 and 10: every program's container gets POD_NAME from the downward API."""
    problems = []
    for workload in workloads(objects):
        for container in containers(workload):
            if program_of(container.get("image", "")) in (None, "loadgen"):
                continue
            variables = {v["name"]: v for v in container.get("env") or []}
            field_ref = ((variables.get("POD_NAME") or {}).get("valueFrom") or {}).get("fieldRef")
            if (field_ref or {}).get("fieldPath") != "metadata.name":
                problems.append(
                    f"{describe(workload)}: container {container['name']} lacks POD_NAME from "
                    "metadata.name"
                )
    return problems


RECOMMENDED_LABELS = (
    "app",
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/component",
)


def labels(objects, versioned=()):
    """SPEC 10: every pod carries `app` (what its Service selects) and the recommended labels,
    part of voting-app, and no version label (it would go stale under `kubectl set image`),
    except the workloads named in `versioned` (the slides' v1 and v2), which carry `version`."""
    problems = []
    for workload in workloads(objects):
        pod_labels = pod_template(workload)["metadata"].get("labels") or {}
        for key in RECOMMENDED_LABELS:
            if key not in pod_labels:
                problems.append(f"{describe(workload)}: its pods lack the label {key}")
        if pod_labels.get("app.kubernetes.io/part-of", "voting-app") != "voting-app":
            problems.append(f"{describe(workload)}: its pods are not part of voting-app")
        allowed = ("version",) if workload["metadata"]["name"] in versioned else ()
        for key in VERSION_LABELS:
            if key in pod_labels and key not in allowed:
                problems.append(f"{describe(workload)}: its pods carry the label {key}")
        for key in allowed:
            if key not in pod_labels:
                problems.append(f"{describe(workload)}: its pods lack the label {key}")
    return problems


def enforced_profile(objects, namespace):
    """The Pod Security profile `namespace` enforces: restricted unless its Namespace object
    says otherwise (a namespace the objects do not create is held to the strictest)."""
    for obj in of_kind(objects, "Namespace"):
        if obj["metadata"]["name"] == namespace:
            labels = obj["metadata"].get("labels") or {}
            return labels.get("pod-security.kubernetes.io/enforce", "privileged")
    return "restricted"


def conduct(objects, shared_accounts=()):
    """What the issue asks of every container: the restricted Pod Security profile (a numeric
    non-root user, no privilege escalation, every capability dropped, the runtime's seccomp
    profile, a read-only root), CPU and memory requests and a memory limit, images pulled only
    when absent; and of every pod: its own ServiceAccount, without an API token. A pod in a
    namespace that enforces another profile (the log collector's, which reads the node's files
    as root) still drops every capability and escalates nothing; only its user may be root.
    The ServiceAccounts of `shared_accounts` serve several workloads: the versions of one
    program."""
    problems = []
    service_accounts = {
        (a["metadata"].get("namespace", "default"), a["metadata"]["name"]): a
        for a in of_kind(objects, "ServiceAccount")
    }
    used_by = {}
    for workload in workloads(objects):
        spec = pod_template(workload)["spec"]
        pod_security = spec.get("securityContext") or {}
        namespace = workload["metadata"].get("namespace", "default")
        account = spec.get("serviceAccountName")
        if (namespace, account) not in service_accounts:
            problems.append(f"{describe(workload)}: no ServiceAccount of its own")
        used_by.setdefault(account, []).append(workload)
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{describe(workload)}: mounts an API token")
        for container in containers(workload):
            where = f"{describe(workload)} container {container['name']}"
            security = {**pod_security, **(container.get("securityContext") or {})}
            user = security.get("runAsUser")
            numeric = isinstance(user, int)
            if enforced_profile(objects, namespace) == "restricted" and (
                security.get("runAsNonRoot") is not True or not numeric or user == 0
            ):
                problems.append(f"{where}: not a numeric non-root user")
            elif not numeric:
                problems.append(f"{where}: not a numeric user")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: may escalate privileges")
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{where}: keeps capabilities")
            if (security.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: no RuntimeDefault seccomp profile")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: a writable root filesystem")
            resources = container.get("resources") or {}
            for kind, resource in (("requests", "cpu"), ("requests", "memory"), ("limits", "memory")):
                if resource not in (resources.get(kind) or {}):
                    problems.append(f"{where}: no {resource} {kind[:-1]}")
            if container.get("imagePullPolicy") != "IfNotPresent":
                problems.append(f"{where}: imagePullPolicy is not IfNotPresent")
    for account, users in used_by.items():
        if len(users) > 1 and account not in shared_accounts:
            names = ", ".join(describe(w) for w in users)
            problems.append(f"ServiceAccount {account} is shared by {names}")
    return problems

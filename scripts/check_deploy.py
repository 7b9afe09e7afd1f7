"""Checks the settings of the Kubernetes deployments that schema validation cannot see.

    check_deploy.py MANIFEST... [--chart SET...]

A MANIFEST is a file (deploy/k8s/roost.yaml); a SET is a directory of the chart's rendered
manifests (scripts/check_chart.py writes them), checked as one deployment, with the chart's
hardening on top. Every deployment must have:

- one StatefulSet of an odd number of replicas, started in parallel (a pod is ready only once
  every group has a leader, which takes a quorum of pods);
- a headless Service behind it that publishes not-ready addresses: peers must resolve each
  other before any pod is ready;
- a PodDisruptionBudget over its pods allowing at most one voluntary disruption;
- readiness on /readyz and liveness on /healthz, on the HTTP listener's port;
- peer mutual TLS: the CA, certificate and key files inside a volume mounted from a Secret;
- the node id derived from the pod's ordinal, and a members list of exactly the replicas, by
  their names in the headless Service and the listeners' ports;
- no secret's value: no Secret object, no secret setting given as a literal, no PEM block or
  webhook secret anywhere;
- a ServiceMonitor, if any, scraping /metrics on the HTTP port of one of its Services.

The chart's sets also run as a non-root user on a read-only root file system, with the data dir
a directory of its own inside the volume (the node restricts its data dir to its user, which
the volume's root, owned by root, does not allow), and with resource requests.
"""

import re
import sys
import tomllib
from pathlib import Path

import yaml

DOCKERFILE = Path(__file__).resolve().parent.parent / "deploy" / "Dockerfile"

# Settings whose value is a secret: given by a Secret reference, never as a literal.
SECRET_SETTING = re.compile(r"SECRET|OPERATOR_KEY|TOKEN|PASSWORD|_KEY$")
# Text that is a secret wherever it appears.
SECRET_TEXT = re.compile(r"-----BEGIN|whsec_")
# How the pods' shell command derives the node id from the ordinal (roost-0 is node 1).
NODE_ID_FROM_ORDINAL = "ROOST_NODE_ID=$(( ${HOSTNAME##*-} + 1 ))"


class Refused(Exception):
    """A deployment setting that would not work, or would leak a secret."""


def load(path):
    """The documents of a manifest file, or of every YAML file in a directory."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    docs = []
    for f in files:
        with open(f) as fh:
            docs.extend(d for d in yaml.safe_load_all(fh) if d)
    return docs


def image_env():
    """The image's `ENV` pairs (deploy/Dockerfile), the defaults a container starts with."""
    env = {}
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line[4:].split())
    return env


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def strings(value):
    """Every string inside a document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


class Deployment:
    def __init__(self, docs):
        self.docs = docs
        sets = self.kind("StatefulSet")
        if len(sets) != 1:
            raise Refused(f"expected one StatefulSet, found {len(sets)}")
        self.sts = sets[0]
        self.pod = self.sts["spec"]["template"]["spec"]
        self.labels = self.sts["spec"]["template"]["metadata"]["labels"]
        containers = self.pod["containers"]
        self.container = next((c for c in containers if c["name"] == "roost"), containers[0])
        self.env_entries = self.container.get("env", [])
        self.env = dict(image_env())
        self.env.update((e["name"], e["value"]) for e in self.env_entries if "value" in e)
        self.script = " ".join(self.container.get("command", []) + self.container.get("args", []))
        self.http_port = port_of(self.env["ROOST_HTTP_ADDR"])
        self.peer_port = port_of(self.env["ROOST_PEER_ADDR"])

    def kind(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def container_port(self, port):
        """A probe's or Service's target port as a number."""
        if isinstance(port, int):
            return port
        for p in self.container.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
        raise Refused(f"the container has no port named {port!r}")

    def selects_pods(self, selector):
        return bool(selector) and selector.items() <= self.labels.items()

    def headless(self):
        name = self.sts["spec"].get("serviceName")
        services = [s for s in self.kind("Service") if s["metadata"]["name"] == name]
        if not services:
            raise Refused("the StatefulSet's serviceName has no Service")
        svc = services[0]
        if svc["spec"].get("clusterIP") != "None":
            raise Refused("the StatefulSet's Service is not headless")
        if svc["spec"].get("publishNotReadyAddresses") is not True:
            raise Refused("the headless Service needs publishNotReadyAddresses: true")
        if not self.selects_pods(svc["spec"].get("selector")):
            raise Refused("the headless Service does not select the StatefulSet's pods")

    def replicas(self):
        n = self.sts["spec"].get("replicas", 1)
        if n % 2 == 0:
            raise Refused(f"{n} replicas: an even count survives no more failures than one less")
        if self.sts["spec"].get("podManagementPolicy") != "Parallel":
            raise Refused("podManagementPolicy must be Parallel: no pod is ready before a quorum")

    def disruption_budget(self):
        pdbs = [
            d
            for d in self.kind("PodDisruptionBudget")
            if self.selects_pods(d["spec"]["selector"].get("matchLabels", {}))
        ]
        if len(pdbs) != 1:
            raise Refused("expected one PodDisruptionBudget over the StatefulSet's pods")
        if pdbs[0]["spec"].get("maxUnavailable") != 1:
            raise Refused("the PodDisruptionBudget must have maxUnavailable: 1")

    def probes(self):
        for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]:
            get = self.container.get(probe, {}).get("httpGet")
            if not get or get.get("path") != path:
                raise Refused(f"{probe} must be an HTTP GET of {path}")
            if self.container_port(get["port"]) != self.http_port:
                raise Refused(f"{probe} is not on the HTTP listener's port {self.http_port}")

    def peer_tls(self):
        files = {k: v for k, v in self.env.items() if k.startswith("ROOST_PEER_TLS__")}
        files.update(re.findall(r"(ROOST_PEER_TLS__\w+)=([^;\s]+)", self.script))
        secret_volumes = {v["name"] for v in self.pod.get("volumes", []) if "secret" in v}
        mounts = [
            m["mountPath"].rstrip("/") + "/"
            for m in self.container.get("volumeMounts", [])
            if m["name"] in secret_volumes
        ]
        for field in ["CA_FILE", "CERT_FILE", "KEY_FILE"]:
            path = files.get(f"ROOST_PEER_TLS__{field}")
            if path is None:
                raise Refused(f"peer TLS: ROOST_PEER_TLS__{field} is not set")
            if not any(path.startswith(m) for m in mounts):
                raise Refused(f"peer TLS: {path} is not in a volume mounted from a Secret")

    def members(self):
        if NODE_ID_FROM_ORDINAL not in self.script:
            raise Refused(f"the container must derive its node id: {NODE_ID_FROM_ORDINAL}")
        text = self.env.get("ROOST_MEMBERS")
        if text is None:
            raise Refused("ROOST_MEMBERS is not set")
        members = tomllib.loads(f"members = {text}")["members"]
        name = self.sts["metadata"]["name"]
        service = self.sts["spec"]["serviceName"]
        expected = [
            {
                "id": i + 1,
                "peer_addr": f"{name}-{i}.{service}:{self.peer_port}",
                "http_addr": f"{name}-{i}.{service}:{self.http_port}",
            }
            for i in range(self.sts["spec"].get("replicas", 1))
        ]
        if members != expected:
            raise Refused(f"ROOST_MEMBERS is {members}, the replicas are {expected}")

    def no_secret_values(self):
        if self.kind("Secret"):
            raise Refused("a Secret object: secrets come from Secrets made apart")
        for e in self.env_entries:
            name = e["name"]
            if SECRET_SETTING.search(name) and not name.endswith("_FILE"):
                if "value" in e or "secretKeyRef" not in e.get("valueFrom", {}):
                    raise Refused(f"{name} must come from a Secret (valueFrom.secretKeyRef)")
        for s in strings(self.docs):
            if SECRET_TEXT.search(s):
                raise Refused(f"a secret in the manifests: {s[:20]}…")

    def service_monitors(self):
        for sm in self.kind("ServiceMonitor"):
            want = sm["spec"]["selector"].get("matchLabels", {})
            services = [
                s
                for s in self.kind("Service")
                if want and want.items() <= s["metadata"].get("labels", {}).items()
            ]
            if len(services) != 1:
                raise Refused(f"ServiceMonitor selects {len(services)} Services, not one")
            svc = services[0]
            if not self.selects_pods(svc["spec"].get("selector")):
                raise Refused("the ServiceMonitor's Service does not select the pods")
            ports = {p["name"]: p for p in svc["spec"]["ports"]}
            for ep in sm["spec"]["endpoints"]:
                if ep.get("path") != "/metrics":
                    raise Refused("the ServiceMonitor must scrape /metrics")
                port = ports.get(ep.get("port"))
                if port is None:
                    raise Refused(f"the Service has no port named {ep.get('port')!r}")
                if self.container_port(port.get("targetPort", port["port"])) != self.http_port:
                    raise Refused("the ServiceMonitor does not scrape the HTTP listener")

    def hardened(self):
        pod_sc = self.pod.get("securityContext", {})
        sc = self.container.get("securityContext", {})
        if pod_sc.get("runAsNonRoot") is not True or not pod_sc.get("runAsUser"):
            raise Refused("the pod must run as a non-root user")
        if sc.get("readOnlyRootFilesystem") is not True:
            raise Refused("the container's root file system must be read-only")
        if sc.get("allowPrivilegeEscalation") is not False:
            raise Refused("the container must not allow privilege escalation")
        data = next(
            (m["mountPath"] for m in self.container["volumeMounts"] if m["name"] == "data"), None
        )
        data_dir = self.env["ROOST_DATA_DIR"]
        if data is None or not data_dir.startswith(data.rstrip("/") + "/"):
            raise Refused(f"the data dir {data_dir} must be a directory inside the data volume")
        if not self.container.get("resources", {}).get("requests"):
            raise Refused("the container needs resource requests")


def check(docs, chart=False):
    """Raises Refused naming the first setting that is wrong."""
    d = Deployment(docs)
    d.replicas()
    d.headless()
    d.disruption_budget()
    d.probes()
    d.peer_tls()
    d.members()
    d.no_secret_values()
    d.service_monitors()
    if chart:
        d.hardened()


def main(args):
    chart = False
    for arg in args:
        if arg == "--chart":
            chart = True
            continue
        try:
            check(load(arg), chart)
        except Refused as e:
            print(f"check_deploy: {arg}: {e}", file=sys.stderr)
            sys.exit(1)
        print(f"check_deploy: {arg}: ok")


if __name__ == "__main__":
    main(sys.argv[1:])

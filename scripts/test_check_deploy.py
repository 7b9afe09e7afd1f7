"""The deployment checks refuse what they must: each test breaks one setting of a deployment
that passes (deploy/k8s/roost.yaml, and the Helm chart rendered with its default values and with
its five-node values) and expects scripts/check_deploy.py to refuse it, naming why.

Run by scripts/check-deploy.sh: python scripts/test_check_deploy.py
"""

import copy
import sys
import unittest
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_chart  # noqa: E402
from check_deploy import Refused, check, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "roost"


def kind(docs, k, name=None):
    return next(d for d in docs if d["kind"] == k and name in (None, d["metadata"]["name"]))


def container(docs):
    return kind(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]


def env(docs, name):
    return next(e for e in container(docs)["env"] if e["name"] == name)


class Checks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        five = yaml.safe_load((CHART / "ci" / "five-nodes-values.yaml").read_text())
        cls.sets = {
            "k8s": (load(ROOT / "deploy" / "k8s" / "roost.yaml"), False),
            "chart": (check_chart.render(CHART, {}), True),
            "chart-five": (check_chart.render(CHART, five, "inbox", "agents"), True),
        }

    def broken(self, sets, why, mutate):
        """Each set in `sets` passes as it is and is refused, for `why`, once mutated."""
        for name in sets:
            docs, chart = self.sets[name]
            with self.subTest(set=name):
                check(docs, chart)
                docs = copy.deepcopy(docs)
                mutate(docs)
                with self.assertRaises(Refused) as refused:
                    check(docs, chart)
                self.assertIn(why, str(refused.exception))

    ALL = ["k8s", "chart", "chart-five"]
    CHART = ["chart", "chart-five"]

    def test_not_ready_addresses_unpublished(self):
        def mutate(docs):
            name = kind(docs, "StatefulSet")["spec"]["serviceName"]
            del kind(docs, "Service", name)["spec"]["publishNotReadyAddresses"]

        self.broken(self.ALL, "publishNotReadyAddresses", mutate)

    def test_even_replicas(self):
        def mutate(docs):
            kind(docs, "StatefulSet")["spec"]["replicas"] += 1

        self.broken(self.ALL, "even count", mutate)

    def test_members_not_the_replicas(self):
        def mutate(docs):
            kind(docs, "StatefulSet")["spec"]["replicas"] += 2

        self.broken(self.ALL, "ROOST_MEMBERS is", mutate)

    def test_ordered_start(self):
        def mutate(docs):
            del kind(docs, "StatefulSet")["spec"]["podManagementPolicy"]

        self.broken(self.ALL, "Parallel", mutate)

    def test_disruption_budget(self):
        def mutate(docs):
            kind(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] = 2

        self.broken(self.ALL, "maxUnavailable: 1", mutate)

    def test_readiness_on_healthz(self):
        def mutate(docs):
            container(docs)["readinessProbe"]["httpGet"]["path"] = "/healthz"

        self.broken(self.ALL, "readinessProbe", mutate)

    def test_liveness_on_the_peer_port(self):
        def mutate(docs):
            container(docs)["livenessProbe"]["httpGet"]["port"] = 7170

        self.broken(self.ALL, "livenessProbe is not on the HTTP listener's port", mutate)

    def test_peer_certificates_not_from_a_secret(self):
        def mutate(docs):
            pod = kind(docs, "StatefulSet")["spec"]["template"]["spec"]
            for v in pod["volumes"]:
                if "secret" in v:
                    v["emptyDir"] = {}
                    del v["secret"]

        self.broken(self.ALL, "not in a volume mounted from a Secret", mutate)

    def test_secret_as_a_literal(self):
        def mutate(docs):
            container(docs)["env"].append({"name": "ROOST_AUTH__JWT_SECRET", "value": "x" * 40})

        self.broken(self.ALL, "ROOST_AUTH__JWT_SECRET must come from a Secret", mutate)

    def test_secret_object(self):
        def mutate(docs):
            docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})

        self.broken(self.ALL, "a Secret object", mutate)

    def test_private_key_inline(self):
        def mutate(docs):
            kind(docs, "StatefulSet")["metadata"]["annotations"] = {
                "key": "-----BEGIN PRIVATE KEY-----"
            }

        self.broken(self.ALL, "a secret in the manifests", mutate)

    def test_operator_key_from_a_literal_in_the_chart(self):
        def mutate(docs):
            e = env(docs, "ROOST_ADMIN__OPERATOR_KEY")
            del e["valueFrom"]
            e["value"] = "operator-key-0123456789"

        self.broken(["chart-five"], "ROOST_ADMIN__OPERATOR_KEY", mutate)

    def test_metrics_path(self):
        def mutate(docs):
            kind(docs, "ServiceMonitor")["spec"]["endpoints"][0]["path"] = "/stats"

        self.broken(["chart-five"], "/metrics", mutate)

    def test_metrics_on_the_peer_port(self):
        def mutate(docs):
            kind(docs, "ServiceMonitor")["spec"]["endpoints"][0]["port"] = "peer"

        self.broken(["chart-five"], "does not scrape the HTTP listener", mutate)

    def test_root_user(self):
        def mutate(docs):
            pod = kind(docs, "StatefulSet")["spec"]["template"]["spec"]
            pod["securityContext"]["runAsNonRoot"] = False

        self.broken(self.CHART, "non-root", mutate)

    def test_writable_root(self):
        def mutate(docs):
            container(docs)["securityContext"]["readOnlyRootFilesystem"] = False

        self.broken(self.CHART, "read-only", mutate)

    def test_data_dir_at_the_volume_root(self):
        def mutate(docs):
            env(docs, "ROOST_DATA_DIR")["value"] = "/var/lib/roost"

        self.broken(self.CHART, "inside the data volume", mutate)


if __name__ == "__main__":
    unittest.main()

"""The deployment examples in deploy/ are valid against their schemas and run lpft as documented."""

import copy
import gzip
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

from lpft.cli import build_parser
from lpft.sweeps import load_spec

DEPLOY = Path(__file__).parents[1] / "deploy"


def test_ray_up_config_passes_ray_schema():
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = yaml.safe_load((DEPLOY / "ray-up-gpu.yaml").read_text())
    validate_config(prepare_config(copy.deepcopy(raw)))  # Ray's own ray-schema.json + its checks
    gpu = raw["available_node_types"]["gpu"]
    assert gpu["resources"]["GPU"] == 1 and gpu["max_workers"] >= 1
    assert "/home/ray/.ray/auth_token" in raw["file_mounts"]  # token authentication stays on
    assert all("RAY_AUTH_MODE=token" in c for c in raw["head_start_ray_commands"] + raw["worker_start_ray_commands"]
               if "ray start" in c)
    broken = copy.deepcopy(raw)
    broken["available_node_types"]["gpu"]["max_workers"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def strict(node):
    """A CRD's openAPIV3Schema as `kubectl apply` (strict field validation) reads it: an object
    with declared properties refuses others unless it preserves unknown fields; `nullable` lets
    null through. Nothing else is changed: types, patterns and required keys are KubeRay's."""
    if isinstance(node, list):
        return [strict(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def rayjob_validator():
    """KubeRay's published RayJob CRD (deploy/schemas/README.md says which release)."""
    with gzip.open(DEPLOY / "schemas" / "ray.io_rayjobs.v1.7.0.yaml.gz") as f:
        crd = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert crd["spec"]["names"]["kind"] == "RayJob"
    (served,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    assert served["name"] == "v1"
    return jsonschema.Draft7Validator(strict(served["schema"]["openAPIV3Schema"]))


def test_kuberay_rayjob_passes_kuberays_own_crd_and_runs_a_builtin_spec():
    validator = rayjob_validator()
    job = yaml.safe_load((DEPLOY / "kuberay-rayjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    validator.validate(job)
    argv = shlex.split(job["spec"]["entrypoint"])
    args = build_parser().parse_args(argv[1:])
    assert argv[0] == "lpft" and args.command == "sweep" and args.address == "auto"
    assert load_spec(args.spec).gpu == 1
    workers = job["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert workers["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"name": "RAY_AUTH_MODE", "value": "token"} in workers["env"]
    for mutate in (lambda j: j["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].update(replicas="one"),
                   lambda j: j["spec"].update(entrypiont="typo"),
                   lambda j: j["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
                   ["resources"]["limits"].update(memory="16 gigs"),
                   lambda j: j["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"].pop("containers"),
                   lambda j: j["spec"].update(shutdownAfterJobFinishes="yes")):
        bad = copy.deepcopy(job)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)

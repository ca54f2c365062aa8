"""The deployment examples in deploy/ are valid against their schemas and run lpft as documented."""

import copy
import json
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


def test_kuberay_rayjob_passes_its_schema_and_runs_a_builtin_spec():
    schema = json.loads((DEPLOY / "schemas" / "rayjob.schema.json").read_text())
    job = yaml.safe_load((DEPLOY / "kuberay-rayjob.yaml").read_text())
    jsonschema.validate(job, schema)
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
                   ["resources"]["limits"].update(memory="16 gigs")):
        bad = copy.deepcopy(job)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)

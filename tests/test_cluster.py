"""The Ray autoscaler cluster file (validated offline with Ray's own schema, nodes sized for the example
configs, filled in by aws_helper, bootstrapped by Ray's AWS code against moto) and scale-out: dqn_train.py --auto
on a real two-node Ray cluster puts the env runners on the node with the custom resource."""

import copy
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from aws import cluster_config, ec2
from aws.ec2 import AwsError
from dqn_example.dqn_callbacks import DQNCallbacks
from dqn_example.dqn_experiment import DQNExperiment
from rllib_integration import load_env_config
from rllib_integration.training import build_algorithm_config, find_latest_checkpoint, place_on_cluster, trainable
from rllib_integration.training.algorithm_config import HEAD_NODE_RESOURCE
from services import moto_server, ray_cluster
from test_dqn import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_FILE = os.path.join(ROOT, "dqn_example", "dqn_autoscaler.yaml")
#: vCPUs, GPUs and memory (GiB) of the instance types the cluster file uses (AWS's published figures).
INSTANCE_TYPES = {"g4dn.xlarge": (4, 1, 16), "g4dn.2xlarge": (8, 1, 32)}
RUNNER_RESOURCE = "carla_worker"


@pytest.fixture
def cluster():
    return cluster_config.load(CLUSTER_FILE)


def test_cluster_file_passes_rays_schema_and_broken_copies_do_not(cluster):
    prepared = cluster_config.validate(cluster, CLUSTER_FILE)
    assert prepared["head_node_type"] == "head" and prepared["provider"]["type"] == "aws"
    typo = dict(copy.deepcopy(cluster), max_worker=3)
    unknown_head = dict(copy.deepcopy(cluster), head_node_type="boss")
    too_many = copy.deepcopy(cluster)
    too_many["available_node_types"]["carla_worker"]["min_workers"] = 9
    no_resources = copy.deepcopy(cluster)
    del no_resources["available_node_types"]["carla_worker"]["resources"]
    for broken, complaint in ((typo, "max_worker"), (unknown_head, "head_node_type"), (too_many, "min_workers"),
                              (no_resources, "resources")):
        with pytest.raises(AwsError, match=f"broken.yaml is not a valid Ray cluster file: .*{complaint}"):
            cluster_config.validate(broken, "broken.yaml")


def test_nodes_are_sized_by_their_instance_types_and_workers_are_spot(cluster):
    nodes = cluster["available_node_types"]
    for name, node in nodes.items():
        cpus, gpus, _ = INSTANCE_TYPES[node["node_config"]["InstanceType"]]
        assert (node["resources"]["CPU"], node["resources"]["GPU"]) == (cpus, gpus), name
    worker = nodes["carla_worker"]
    assert worker["node_config"]["InstanceMarketOptions"] == {"MarketType": "spot"}
    assert worker["resources"][RUNNER_RESOURCE] >= 1 and RUNNER_RESOURCE not in nodes["head"]["resources"]
    assert "InstanceMarketOptions" not in nodes["head"]["node_config"], "the head keeps the results: on demand"
    assert any(f"RLLIB_RUNNER_RESOURCE={RUNNER_RESOURCE}" in command for command in cluster["head_setup_commands"])


@pytest.mark.parametrize("config_file", ["dqn_config.yaml", "dqn_config_carla_gpu.yaml"])
def test_the_example_configs_fit_the_nodes(cluster, config_file):
    """RLlib's own resource request for each training config, placed as dqn_train.py --auto places it."""
    path = os.path.join(ROOT, "dqn_example", config_file)
    data = load_env_config(path, default_experiment=DQNExperiment)
    config = place_on_cluster(build_algorithm_config(data, path, callbacks=DQNCallbacks), RUNNER_RESOURCE)
    algorithm, *runners = trainable(config.algo_class).default_resource_request(config).bundles
    head, worker = (cluster["available_node_types"][name]["resources"] for name in ("head", "carla_worker"))
    assert algorithm[HEAD_NODE_RESOURCE] > 0 and RUNNER_RESOURCE not in algorithm
    assert algorithm["CPU"] <= head["CPU"] and algorithm.get("GPU", 0) <= head["GPU"]
    assert runners and all(bundle[RUNNER_RESOURCE] == 1 for bundle in runners)
    per_worker = min(worker[key] // bundle[key] for bundle in runners for key in ("CPU", "GPU", RUNNER_RESOURCE)
                     if bundle.get(key))
    assert per_worker >= 1, f"an env runner of {config_file} does not fit a {worker}"
    experiment, others = data["env_config"]["experiment"], data["env_config"]["experiment"]["others"]
    frame = experiment["hero"]["sensors"]["birdview"]["size"] ** 2 * 3 * others["framestack"]
    replay_gib = data["training"]["replay_buffer_config"]["capacity"] * frame / 2 ** 30
    head_memory = INSTANCE_TYPES[cluster["available_node_types"]["head"]["node_config"]["InstanceType"]][2]
    assert replay_gib < head_memory / 2, f"the replay buffer ({replay_gib:.1f} GiB) must fit the head's memory"


def test_cluster_file_never_opens_ports_to_the_world(cluster):
    text = open(CLUSTER_FILE).read()
    assert "0.0.0.0/0" not in text and "::/0" not in text
    start = " ".join(cluster["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start and "0.0.0.0" not in start, "the dashboard: through a tunnel only"
    for name, node in cluster["available_node_types"].items():
        # With SecurityGroupIds given, Ray uses them instead of creating a group with SSH open to 0.0.0.0/0.
        assert node["node_config"]["SecurityGroupIds"], name
    assert sorted(cluster_config.placeholders(cluster)) == ["carla_worker.ImageId", "carla_worker.SecurityGroupIds",
                                                           "head.ImageId", "head.SecurityGroupIds"]
    assert cluster["file_mounts"] == {"~/rllib-integration": "."}


def test_configure_fills_every_node_and_keeps_the_comments(tmp_path):
    path = tmp_path / "cluster.yaml"
    shutil.copy(CLUSTER_FILE, path)
    before = path.read_text()
    data = cluster_config.configure(path, region="us-east-2", zones=["us-east-2a", "us-east-2b"],
                                    image_id="ami-0123456789abcdef0", security_group_id="sg-0a1b2c3d4e5f60789")
    after = path.read_text()
    assert cluster_config.placeholders(data) == []
    assert yaml.safe_load(after)["provider"] == dict(yaml.safe_load(before)["provider"], region="us-east-2",
                                                     availability_zone="us-east-2a,us-east-2b")
    comments = lambda text: [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]  # noqa: E731
    assert comments(after) == comments(before)
    for node in data["available_node_types"].values():
        assert node["node_config"]["ImageId"] == "ami-0123456789abcdef0"
        assert node["node_config"]["SecurityGroupIds"] == ["sg-0a1b2c3d4e5f60789"]
    path.write_text(re.sub(r"(?m)^\s*ImageId:.*\n", "", before))
    with pytest.raises(AwsError, match="no 'ImageId:' line"):
        cluster_config.configure(path, region="us-east-2", zones=["us-east-2a"], image_id="ami-0123456789abcdef0",
                                 security_group_id="sg-1")
    assert "ImageId" not in path.read_text(), "a failed update leaves the file as it was"


def test_rays_aws_bootstrap_uses_our_security_group(tmp_path, monkeypatch):
    """Ray's real AWS bootstrap (IAM role, key pair, subnets, groups) against moto over HTTP."""
    import boto3
    from ray.autoscaler import sdk
    import ray.autoscaler._private.aws.config as ray_aws_config

    with moto_server(tmp_path) as moto:
        for key, value in moto.environment("us-east-1").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HOME", str(tmp_path))  # Ray writes its key to ~/.ssh
        monkeypatch.setattr(ray_aws_config.time, "sleep", lambda seconds: None)  # IAM propagation waits
        client = boto3.client("ec2")
        group = ec2.ensure_security_group(client, "carla-rllib", ec2.default_vpc(client), "203.0.113.7/32")
        image = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        path = tmp_path / "cluster.yaml"
        shutil.copy(CLUSTER_FILE, path)
        zones = ec2.zones_offering(client, cluster_config.instance_types(cluster_config.load(path)))
        data = cluster_config.configure(path, region="us-east-1", zones=zones, image_id=image,
                                        security_group_id=group)
        bootstrapped = sdk.bootstrap_config(data, no_config_cache=True)
        for node in bootstrapped["available_node_types"].values():
            assert node["node_config"]["SecurityGroupIds"] == [group]
            assert node["node_config"]["SubnetIds"] and node["node_config"]["KeyName"]
        assert os.path.isfile(bootstrapped["auth"]["ssh_private_key"])
        world = [(g["GroupName"], p.get("FromPort")) for g in client.describe_security_groups()["SecurityGroups"]
                 for p in g["IpPermissions"] for r in p.get("IpRanges", []) if r["CidrIp"] == "0.0.0.0/0"]
        assert world == [], f"ports open to the world: {world}"


def cluster_nodes(cluster):
    """[(node id, resources)] of the live nodes, asked from a separate driver."""
    script = ("import json, ray; ray.init(address=%r, logging_level='ERROR'); "
              "print(json.dumps([[n['NodeID'], n['Resources']] for n in ray.nodes() if n['Alive']]))" % cluster.address)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                            env=dict(os.environ, **cluster.environment))
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dqn_train_auto_places_env_runners_on_the_worker_node(tmp_path):
    config = dict(TINY, env_runners=dict(TINY["env_runners"], num_env_runners=1))
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(config))
    with ray_cluster(tmp_path, head_cpus=1, worker_resources=[{"CPU": 1, RUNNER_RESOURCE: 1}]) as ray:
        nodes = cluster_nodes(ray)
        head = [node for node, resources in nodes if HEAD_NODE_RESOURCE in resources]
        worker = [node for node, resources in nodes if RUNNER_RESOURCE in resources]
        assert len(nodes) == 2 and len(head) == 1 and len(worker) == 1 and head != worker
        with pytest.raises(subprocess.CalledProcessError) as refused:  # token authentication: a wrong token is refused
            cluster_nodes(dataclasses.replace(ray, environment=dict(  # (2 tries to connect, not Ray's 20)
                ray.environment, RAY_AUTH_TOKEN="0" * 64, RAY_gcs_server_port_wait_time_s="2")))
        assert "InvalidAuthToken" in refused.value.stderr
        environment = dict(os.environ, **ray.environment, RAY_ADDRESS=ray.address,
                           RLLIB_RUNNER_RESOURCE=RUNNER_RESOURCE)
        run = subprocess.run([sys.executable, "dqn_train.py", str(config_file), "-d", str(tmp_path / "results"),
                              "-n", "cluster", "--tboff", "--auto", "--iterations", "2"], cwd=ROOT, env=environment,
                             capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    placement = next(line for line in run.stdout.splitlines() if line.startswith("placement:"))
    found = dict(re.findall(r"(algorithm|env runner 1) on node (\w+)", placement))
    assert head[0].startswith(found["algorithm"]), placement
    assert worker[0].startswith(found["env runner 1"]), placement
    steps = [int(match) for match in re.findall(r"^iter\s+\d+ \| env steps\s+(\d+)", run.stdout, re.M)]
    assert len(steps) == 2 and steps[-1] >= 2 * TINY["reporting"]["min_sample_timesteps_per_iteration"]
    checkpoint = find_latest_checkpoint(str(tmp_path / "results" / "cluster"))
    assert os.path.isfile(os.path.join(checkpoint, "policy.onnx"))


def test_a_runner_resource_no_local_node_offers_is_an_error(tmp_path):
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(TINY))
    environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    run = subprocess.run([sys.executable, "dqn_train.py", str(config_file), "-d", str(tmp_path / "results"), "--tboff",
                          "--runner-resource", RUNNER_RESOURCE], cwd=ROOT, env=environment, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2 and f"--runner-resource {RUNNER_RESOURCE}: no node of this Ray instance offers it" \
        in run.stderr

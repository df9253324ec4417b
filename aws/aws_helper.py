#!/usr/bin/env python3
"""Build a CARLA training AMI on AWS and manage the EC2 instances that train with it.

    python3 aws/aws_helper.py create-image --region eu-west-3 --allowed-cidr 203.0.113.7/32 \\
        --cluster-config dqn_example/dqn_autoscaler.yaml          # AMI with CARLA 0.9.16 + this project
    python3 aws/aws_helper.py launch --region eu-west-3              # one training instance from that AMI
    python3 aws/aws_helper.py put  --instance-id i-0123456789abcdef0 --source . --target '~'
    python3 aws/aws_helper.py exec --instance-id i-0123456789abcdef0 --command nvidia-smi
    python3 aws/aws_helper.py get  --instance-id i-0123456789abcdef0 --source '~/ray_results' --target .
    python3 aws/aws_helper.py stop --instance-id i-0123456789abcdef0

Each sub-command has its own --help. Credentials and the default region come from the usual AWS places
(`aws configure`, AWS_* variables, AWS_PROFILE). Private keys are kept owner-only in --keys-dir.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any, Callable

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from aws import cluster_config, ec2  # noqa: E402
from aws.ec2 import AwsError  # noqa: E402
from aws.redact import SecretRedactor  # noqa: E402
from aws.remote import DEFAULT_EXCLUDES, Remote, RemoteError, shell_path  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL_SCRIPT = os.path.join(ROOT, "aws", "install", "install.sh")
CLUSTER_FILE = os.path.join("dqn_example", "dqn_autoscaler.yaml")
FIELDS = ("instance_id", "name", "state", "instance_type", "image_id", "public_ip", "private_ip",
          "availability_zone", "key_name", "pem_file", "security_groups", "launch_time")
log = logging.getLogger("aws_helper")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the empty ones."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], "", argparse.SUPPRESS):
            return action.help or ""
        return super()._get_help_string(action)


def allowed_cidr(text: str) -> str:
    """argparse type of --allowed-cidr (see :func:`aws.ec2.parse_cidr`; the width is checked with
    --allow-wide-cidr once every flag is parsed)."""
    try:
        return ec2.parse_cidr(text, allow_wide=True)
    except AwsError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def positive_seconds(text: str) -> float:
    """argparse type of a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 3600")
    return value


def instance_id(text: str) -> str:
    """argparse type of --instance-id."""
    if not re.fullmatch(r"i-[0-9a-f]{8}([0-9a-f]{9})?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an EC2 instance id (like i-0123456789abcdef0)")
    return text


# -- connections -------------------------------------------------------------------------------------------------

def instance_remote(instance: dict, args: argparse.Namespace) -> Remote:
    """An (unconnected) SSH session to a running instance, with its key pair's private key."""
    if instance["State"]["Name"] != "running" or not instance.get("PublicIpAddress"):
        raise AwsError(f"instance {instance['InstanceId']} is {instance['State']['Name']} and has no public IP. "
                       f"Fix: `aws_helper.py start --instance-id {instance['InstanceId']}`.")
    key = getattr(args, "identity", None) or ec2.pem_path(args.keys_dir, instance.get("KeyName", ""))
    return Remote(instance["PublicIpAddress"], args.user, key, alias=instance["InstanceId"],
                  known_hosts=os.path.join(os.path.expanduser(args.keys_dir), "known_hosts"),
                  timeout_s=args.ssh_timeout)


def target_remote(args: argparse.Namespace) -> Remote:
    """The SSH session get/put/exec use: --host (any SSH server) or --instance-id."""
    if args.host:
        if not args.identity:
            raise AwsError("--host needs --identity (the private key file to log in with).")
        return Remote(args.host, args.user, args.identity, port=args.port, timeout_s=args.ssh_timeout,
                      known_hosts=os.path.join(os.path.expanduser(args.keys_dir), "known_hosts"))
    client = ec2.make_session(args.region, args.aws_timeout).client("ec2")
    return instance_remote(ec2.get_instance(client, args.instance_id), args)


# -- sub-commands ------------------------------------------------------------------------------------------------

def configure_cluster_file(path: str, session: Any, client: Any, image_id: str, group_id: str) -> None:
    """Fill the cluster file with this region, its zones, the AMI and the security group, and say so."""
    data = cluster_config.load(path)
    zones = ec2.zones_offering(client, cluster_config.instance_types(data))
    cluster_config.configure(path, region=session.region_name, zones=zones, image_id=image_id,
                             security_group_id=group_id)
    print(f"cluster file {path}: region {session.region_name}, zones {','.join(zones)}, ImageId {image_id}, "
          f"SecurityGroupIds [{group_id}]\nnext: ray up {path}")


def cmd_create_image(args: argparse.Namespace,
                     connect: Callable[[dict, argparse.Namespace], Remote] = instance_remote) -> int:
    """Builder instance from the Deep Learning AMI -> upload this project -> installation scripts -> AMI.
    ``connect`` opens the SSH session to the running builder."""
    scripts = [os.path.abspath(script) for script in args.installation_scripts or [INSTALL_SCRIPT]]
    for script in scripts:
        if not os.path.isfile(script):
            raise AwsError(f"installation script {script} not found. Fix: check --installation-scripts.")
    if args.cluster_config:  # fail before a 30-minute build, not after
        cluster_config.validate(cluster_config.load(args.cluster_config), args.cluster_config)
    session = ec2.make_session(args.region, args.aws_timeout)
    client = session.client("ec2")
    key_name, group_name = args.key_name or args.name, args.security_group_name or args.name
    pem = ec2.ensure_key_pair(client, key_name, args.keys_dir)
    vpc = ec2.default_vpc(client)
    group_id = ec2.ensure_security_group(client, group_name, vpc, args.allowed_cidr)
    if args.base_ami_id:
        base_id, base_name = args.base_ami_id, ec2.describe_image(client, args.base_ami_id).get("Name", "")
    else:
        base_id, base_name = ec2.find_base_ami(session, client)
    log.info("base AMI: %s (%s)", base_id, base_name)
    subnet, _ = ec2.choose_subnet(client, vpc, args.instance_type, args.availability_zone)
    builder = ec2.run_instance(client, name=args.name, role="builder", image_id=base_id,
                               instance_type=args.instance_type, key_name=key_name, security_group_id=group_id,
                               subnet_id=subnet, volume_size=args.volume_size)
    try:
        instance = ec2.wait_for_state(client, builder, "running")
        project = args.remote_project_dir.rstrip("/")
        with connect(instance, args) as remote:
            remote.put(ROOT, os.path.dirname(project) or "~", excludes=DEFAULT_EXCLUDES,
                       name=os.path.basename(project))
            for script in scripts:
                status = remote.run_script(script, remote_dir=f"{project}/.install",
                                           environment={"PROJECT_DIR": shell_path(project)})
                if status:
                    raise AwsError(f"installation script {os.path.basename(script)} failed with exit status "
                                   f"{status} (its output is above).")
        image_id = ec2.create_image(client, builder, args.name)
    except BaseException:
        log.error("stopping the builder %s; to look into it: `aws_helper.py start --instance-id %s`, then exec; "
                  "`aws_helper.py terminate --instance-id %s` removes it", builder, builder, builder)
        try:
            ec2.change_state(client, builder, "stop")
        except Exception as error:  # the first failure is the one to report
            log.error("could not stop the builder %s (%s): stop it in the AWS console", builder, error)
        raise
    ec2.change_state(client, builder, args.builder)
    print(f"image:          {image_id} ({args.name}, from {base_name})\nregion:         {session.region_name}\n"
          f"security group: {group_name} ({group_id})\nkey pair:       {key_name} ({pem})\n"
          f"builder:        {builder} ({'stopped' if args.builder == 'stop' else 'terminated'})")
    if args.cluster_config:
        configure_cluster_file(args.cluster_config, session, client, image_id, group_id)
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    """One instance from the AMI (default: the newest that create-image made for --name)."""
    user_data = args.user_data
    if user_data.startswith("@"):
        try:
            with open(user_data[1:], encoding="utf-8") as handle:
                user_data = handle.read()
        except OSError as error:
            raise AwsError(f"--user-data {args.user_data}: cannot read the file ({error}).") from error
    session = ec2.make_session(args.region, args.aws_timeout)
    client = session.client("ec2")
    key_name, group_name = args.key_name or args.name, args.security_group_name or args.name
    image_id = args.ami_id or ec2.find_own_image(client, args.name)["ImageId"]
    pem = ec2.ensure_key_pair(client, key_name, args.keys_dir)
    vpc = ec2.default_vpc(client)
    group_id = ec2.ensure_security_group(client, group_name, vpc, args.allowed_cidr)
    subnet, _ = ec2.choose_subnet(client, vpc, args.instance_type, args.availability_zone)
    launched = ec2.run_instance(client, name=args.name, role="instance", image_id=image_id,
                                instance_type=args.instance_type, key_name=key_name, security_group_id=group_id,
                                subnet_id=subnet, volume_size=args.volume_size, user_data=user_data)
    instance = ec2.wait_for_state(client, launched, "running")
    address = instance["PublicIpAddress"]
    print(f"instance: {launched} ({args.instance_type}, {image_id})\npublic ip: {address}\n"
          f"ssh:      ssh -i {pem} {args.user}@{address}\n"
          f"tunnels:  ssh -i {pem} -N -L 6006:localhost:6006 -L 8265:localhost:8265 {args.user}@{address}")
    return 0


def cmd_change_state(args: argparse.Namespace) -> int:
    """start, stop or terminate an instance and wait for it."""
    client = ec2.make_session(args.region, args.aws_timeout).client("ec2")
    instance = ec2.change_state(client, args.instance_id, args.command)
    address = instance.get("PublicIpAddress")
    print(f"{args.instance_id}: {instance['State']['Name']}" + (f", public ip {address}" if address else ""))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """What an instance is; --field prints one value alone (for scripts)."""
    client = ec2.make_session(args.region, args.aws_timeout).client("ec2")
    fields = ec2.instance_fields(ec2.get_instance(client, args.instance_id), args.keys_dir)
    if args.field:
        if not fields[args.field]:
            raise AwsError(f"{args.instance_id} has no {args.field} (it is {fields['state']})."
                           + (" Fix: start it." if args.field == "public_ip" else ""))
        print(fields[args.field])
    elif args.json:
        print(json.dumps(fields, indent=2))
    else:
        print("\n".join(f"{key + ':':<19}{value}" for key, value in fields.items()))
    return 0


def cmd_put(args: argparse.Namespace) -> int:
    """Upload a file or folder into a remote folder."""
    with target_remote(args) as remote:
        remote.put(args.source, args.target, excludes=DEFAULT_EXCLUDES + tuple(args.exclude))
    return 0


def cmd_get(args: argparse.Namespace) -> int:
    """Download a remote file or folder into a local folder."""
    with target_remote(args) as remote:
        remote.get(args.source, args.target)
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    """Run a local script (uploaded first) or a command remotely; exits with its exit status."""
    if bool(args.script) == bool(args.command):
        raise AwsError("exec needs exactly one of --script FILE or --command 'COMMAND'.")
    with target_remote(args) as remote:
        if args.command:
            return remote.run(args.command)
        return remote.run_script(args.script, args.script_args, args.remote_dir)


def cmd_configure_cluster(args: argparse.Namespace) -> int:
    """Point the Ray cluster file at the AMI and the security group, in this region."""
    cluster_config.validate(cluster_config.load(args.cluster_config), args.cluster_config)
    session = ec2.make_session(args.region, args.aws_timeout)
    client = session.client("ec2")
    image_id = args.ami_id or ec2.find_own_image(client, args.name)["ImageId"]
    group_id = ec2.ensure_security_group(client, args.security_group_name or args.name, ec2.default_vpc(client),
                                         args.allowed_cidr)
    configure_cluster_file(args.cluster_config, session, client, image_id, group_id)
    return 0


# -- arguments ---------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    formatter = _HelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="AWS region (default: the configured one, e.g. AWS_DEFAULT_REGION)")
    common.add_argument("--keys-dir", default="~/rllib_keys",
                        help="folder of private keys and pinned host keys (created owner-only)")
    common.add_argument("--debug", action="store_true", help="log every step, boto and SSH included (private keys, "
                                                             "secrets and tokens are redacted)")
    common.add_argument("--aws-timeout", type=positive_seconds, default=ec2.READ_TIMEOUT_S,
                        help="seconds to wait for each answer of AWS (3 attempts per request)")
    one = argparse.ArgumentParser(add_help=False)
    one.add_argument("--instance-id", required=True, type=instance_id, help="the instance (i-...)")
    ssh = argparse.ArgumentParser(add_help=False)
    ssh.add_argument("--user", default="ubuntu", help="SSH user")
    ssh.add_argument("--ssh-timeout", type=float, default=300.0, help="seconds to wait for SSH while a host boots")
    target = argparse.ArgumentParser(add_help=False, parents=[ssh])
    where = target.add_mutually_exclusive_group(required=True)
    where.add_argument("--instance-id", type=instance_id, help="the instance (its public IP and key pair's key)")
    where.add_argument("--host", help="any SSH host instead of an instance (needs --identity)")
    target.add_argument("--port", type=int, default=22, help="SSH port (with --host)")
    target.add_argument("--identity", help="private key file (default: the instance's key pair in --keys-dir)")
    naming = argparse.ArgumentParser(add_help=False)
    naming.add_argument("--name", default="CARLA_RLLIB", help="name of the image (and of the instance, key pair "
                                                              "and security group)")
    naming.add_argument("--security-group-name", help="security group (default: --name)")
    naming.add_argument("--allowed-cidr", type=allowed_cidr,
                        help="address or CIDR block allowed to reach SSH (22; TensorBoard and the Ray dashboard "
                             "listen on localhost, reached through SSH tunnels); required while the group does not "
                             "open SSH yet; 0.0.0.0/0 is refused, and blocks wider than /16 (IPv6 /48) need "
                             "--allow-wide-cidr")
    naming.add_argument("--allow-wide-cidr", action="store_true",
                        help="accept an --allowed-cidr block wider than /16 (IPv6 /48)")
    machine = argparse.ArgumentParser(add_help=False, parents=[naming])
    machine.add_argument("--key-name", help="EC2 key pair (default: --name); created with its key in --keys-dir")
    machine.add_argument("--volume-size", type=int, default=150, help="root volume, GiB")
    machine.add_argument("--availability-zone", help="zone (default: the first of the region that offers the "
                                                     "instance type)")

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=formatter,
                                     epilog="Run `aws_helper.py COMMAND --help` for a command's options.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable, parents: list, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common, *parents], formatter_class=formatter, help=help_text,
                                  description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    build = command("create-image", cmd_create_image, [machine, ssh],
                    "build the training AMI: a builder instance from the AWS Deep Learning Base GPU AMI (Ubuntu "
                    "22.04), this project uploaded to it, the installation scripts run, an image made, the "
                    "builder stopped")
    build.add_argument("--base-ami-id", help="AMI to start from (default: the region's newest Deep Learning Base "
                                             "OSS Nvidia Driver GPU AMI, Ubuntu 22.04)")
    build.add_argument("--installation-scripts", nargs="+", metavar="SCRIPT",
                       help="scripts run on the builder, in order (default: aws/install/install.sh)")
    build.add_argument("--instance-type", default="g4dn.xlarge", help="builder instance type")
    build.add_argument("--remote-project-dir", default="~/rllib-integration",
                       help="where the project is uploaded on the builder; the installation scripts run from "
                            "its .install folder with PROJECT_DIR set to it")
    build.add_argument("--builder", choices=("stop", "terminate"), default="stop",
                       help="what happens to the builder once the image is made")
    build.add_argument("--cluster-config", help="also fill this Ray cluster file (e.g. " + CLUSTER_FILE + ") "
                                                "with the region, zones, AMI and security group")

    launch = command("launch", cmd_launch, [machine, ssh], "start one instance from the training AMI")
    launch.add_argument("--ami-id", help="AMI (default: the newest that create-image made for --name)")
    launch.add_argument("--instance-type", default="g4dn.2xlarge", help="instance type (8 vCPUs, 1 T4 GPU)")
    launch.add_argument("--user-data", default="", help="EC2 user data, or @FILE to read it from a file")

    for name, help_text in (("start", "start a stopped instance and wait until it runs (its public IP changes)"),
                            ("stop", "stop an instance and wait until it has stopped"),
                            ("terminate", "terminate an instance (its root volume is deleted)")):
        command(name, cmd_change_state, [one], help_text)
    info = command("info", cmd_info, [one], "show an instance")
    info.add_argument("--field", choices=FIELDS, help="print only this value")
    info.add_argument("--json", action="store_true", help="print every field as JSON")

    put = command("put", cmd_put, [target], "upload a file or folder into a remote folder, skipping "
                                            "unchanged files")
    put.add_argument("--source", default=".", help="local file or folder")
    put.add_argument("--target", default="~", help="remote folder (created); the source goes inside it")
    put.add_argument("--exclude", nargs="+", default=[], metavar="PATTERN",
                     help="names to leave out, added to: " + " ".join(DEFAULT_EXCLUDES))
    get = command("get", cmd_get, [target], "download a remote file or folder into a local folder")
    get.add_argument("--source", required=True, help="remote file or folder (~/ is the login folder)")
    get.add_argument("--target", default=".", help="local folder (created); the source goes inside it")
    run = command("exec", cmd_exec, [target], "run a local script (uploaded first) or a command remotely, "
                                              "streaming its output; exits with its exit status")
    run.add_argument("--script", help="local script to upload and run")
    run.add_argument("--script-args", default="", help="arguments of the script, as one shell string")
    run.add_argument("--remote-dir", default="~", help="remote folder the script is uploaded to and run in")
    run.add_argument("--command", help="a command to run instead of a script")

    cluster = command("configure-cluster", cmd_configure_cluster, [naming],
                      "fill a Ray cluster file with this region, its zones, the AMI and the security group")
    cluster.add_argument("--cluster-config", default=CLUSTER_FILE, help="the Ray cluster file to update")
    cluster.add_argument("--ami-id", help="AMI (default: the newest that create-image made for --name)")
    args = parser.parse_args(argv)
    if getattr(args, "allowed_cidr", None):
        try:
            ec2.parse_cidr(args.allowed_cidr, allow_wide=args.allow_wide_cidr)
        except AwsError as error:
            parser.error(str(error))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO, format="%(levelname)s: %(message)s")
    for handler in logging.getLogger().handlers:  # boto's debug log holds new private keys and signatures
        handler.addFilter(SecretRedactor())
    if not args.debug:
        for noisy in ("botocore", "boto3", "urllib3", "paramiko"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        with ec2.aws_errors(args.command):
            return args.handler(args)
    except (AwsError, RemoteError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

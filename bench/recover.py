#!/usr/bin/env python3
"""Benchmark: the time from SIGKILL to fully restored, per fault kind and recovery path,
through the firedrill binary against a local moto server.

    .venv/bin/python bench/recover.py [--binary target/debug/firedrill] [--kinds K,..]
                                      [--paths journal,s3,sweep,dms] [--repeat 3]

For each (fault kind, path) and each repeat it resets moto (`POST /moto-api/reset`),
seeds the staging twin (`demo/seed.py`), snapshots every attribute a fault may change,
starts `firedrill --log-format json run --yes` of a one-fault scenario with a long
`duration` (10m) in a process group of its own, waits for the `Injected` status line,
SIGKILLs the group (t0), runs the recovery, then polls moto (boto3) until the snapshot
matches again (t1: the start of the first snapshot that reads everything back as
before; its own reads, ~0.2-0.5 s, printed, are not counted). It prints t1 - t0, the
recovery's own wall time, and whether the snapshot matched exactly; then, for each
(kind, path), min / median / max as a Markdown table. Nothing is asserted.

The paths:

- `journal`: `firedrill recover` with the run's own `--state-dir`;
- `s3`: the run used `--state s3://BUCKET/PREFIX`; `recover --state s3://...` runs from
  another working directory with an empty local state directory and a copy of the
  installation key (`FIREDRILL_KEY_FILE`), as another machine would. It waits for the
  dead run's lock to go stale (`FIREDRILL_LOCK_STALE`, 30 s unless `--lock-stale`);
- `sweep`: the state directory is deleted; `firedrill recover --sweep --account ...
  --opt-in-tag firedrill=allowed --yes --min-age 0s`;
- `dms`: the scenario arms the dead man's switch (`safety.dead_mans_switch`, `--grace`).
  moto stores schedules but never fires them, so no time is faked. AWS's part is printed,
  not measured: the formula of docs/dead-mans-switch.md (the k-th call at r + grace +
  k min after the SIGKILL, plus up to a minute of the scheduler's granularity, r being
  what was left of the fault's duration), checked against the schedules' own `at(...)`
  times. What is measured is making the armed schedules' target calls (read with
  `scheduler get_schedule`) in time order against moto, as EventBridge Scheduler would,
  then polling until what the fault changed is back. The switch does not cover
  firedrill's own marks (leases and undo tags, the deny-all ACL or clone, detached from
  every subnet), which `recover` cleans up: they are compared and reported, not waited
  for.

Every firedrill command gets `FIREDRILL_AWS_POLL` (`--poll`, default 100ms), as
bench/run.py does, so that waits on instance states are not a default poll interval.
Only 127.0.0.1 is used.
"""
import argparse
import calendar
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, VENV, start_moto  # noqa: E402  (bench/run.py: moto on a free 127.0.0.1 port)

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "firedrill-bench"
STATE_URL = f"s3://{BUCKET}/recover"
DMS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/firedrill-dead-mans-switch"
# FIS experiment states that count as ended (tests/it/aws.rs ENDED).
ENDED = ("stopping", "stopped", "completed")

# Per kind: (targets, the fault's body under `- name: f`). Targets carry the opt-in tag
# through demo/seed.py.
KINDS = {
    "az_outage": (
        "  subnets: { type: ec2:subnet, tags: { app: shop } }\n"
        "  web: { type: ec2:instance, tags: { app: shop } }\n"
        "  asg: { type: autoscaling:group, tags: { app: shop } }\n",
        "    az_outage: { zone: us-east-1a, targets: [subnets, web, asg], network: true, stop_instances: true, "
        "asg: remove_zone }\n",
    ),
    "ec2_stop_instances": (
        "  web: { type: ec2:instance, tags: { app: shop } }\n",
        "    ec2_stop_instances: { target: web }\n",
    ),
    "ebs_detach_volumes": (
        "  data: { type: ec2:volume, tags: { role: data } }\n",
        "    ebs_detach_volumes: { target: data }\n",
    ),
    "iam_revoke_credentials/role": (
        "  role: { type: iam:role, tags: { app: shop } }\n",
        "    iam_revoke_credentials: { target: role }\n",
    ),
    "iam_revoke_credentials/user": (
        "  user: { type: iam:user, ids: [shop-deployer], tags: { app: shop } }\n",
        "    iam_revoke_credentials: { target: user }\n",
    ),
    "service_outage": (
        "  role: { type: iam:role, tags: { app: shop } }\n",
        '    service_outage: { target: role, actions: ["ses:SendEmail", "sqs:*"], regions: [us-east-1] }\n',
    ),
    "region_outage": (
        "  role: { type: iam:role, tags: { app: shop } }\n",
        '    region_outage: { target: role, region: us-east-1, except: ["sns:Publish"] }\n',
    ),
    "network_blackhole": (
        "  subnets: { type: ec2:subnet, tags: { app: shop } }\n",
        "    network_blackhole: { target: subnets, cidrs: [203.0.113.0/24, 198.51.100.7/32] }\n",
    ),
    # The inline template of tests/it/aws.rs inline_fis_scenario: created at injection with
    # the resolved ARNs, deleted by the revert (or recover, or the sweep).
    "fis_experiment": (
        "",
        "    fis_experiment:\n"
        f"      role_arn: arn:aws:iam::{ACCOUNT}:role/firedrill-fis\n"
        "      actions:\n"
        "        pause:\n"
        "          actionId: aws:ebs:pause-volume-io\n"
        "          parameters: { duration: PT5M }\n"
        "          targets: { Volumes: vols }\n"
        "        no-capacity:\n"
        "          actionId: aws:ec2:api-insufficient-instance-capacity-error\n"
        '          parameters: { availabilityZoneIdentifiers: us-east-1a, percentage: "100", duration: PT5M }\n'
        "          targets: { Roles: app }\n"
        "          startAfter: [pause]\n"
        "      targets:\n"
        "        vols:\n"
        "          resourceType: aws:ec2:ebs-volume\n"
        "          resourceTags: { app: shop, role: data }\n"
        "          filters: [{ path: AvailabilityZone, values: [us-east-1a] }]\n"
        "        app:\n"
        "          resourceType: aws:iam:role\n"
        f'          resourceArns: ["arn:aws:iam::{ACCOUNT}:role/shop-app"]\n',
    ),
}
PATHS = ["journal", "s3", "sweep", "dms"]
# docs/dead-mans-switch.md, "What it covers, per fault kind".
DMS_UNCOVERED = {"fis_experiment": "not covered: stopping the experiment needs its id (docs/dead-mans-switch.md)"}


def scenario(kind, duration, grace, dms):
    targets, fault = KINDS[kind]
    safety = f"safety:\n  dead_mans_switch:\n    role_arn: {DMS_ROLE}\n    grace: {grace}\n" if dms else ""
    return (
        "version: 1\n"
        f"name: recover-{kind.replace('/', '-').replace('_', '-')}\n"
        "environment:\n"
        f"  region: {REGION}\n"
        f'  accounts: ["{ACCOUNT}"]\n'
        "  opt_in_tag: { key: firedrill, value: allowed }\n"
        f"{safety}"
        + (f"targets:\n{targets}" if targets else "")
        + "steady_state:\n"
        "  - name: ok\n"
        '    command: { run: "true" }\n'
        "    every: 1s\n"
        "faults:\n"
        "  - name: f\n"
        f"    duration: {duration}\n"
        f"{fault}"
        "recovery:\n"
        "  objective: sustain\n"
        "  stable_for: 100ms\n"
        "  settle_timeout: 10s\n"
    )


class Aws:
    """boto3 clients of one moto server."""

    def __init__(self, url):
        kw = dict(region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        self.kw = kw
        for name, service in [("ec2", "ec2"), ("asg", "autoscaling"), ("rds", "rds"), ("iam", "iam"), ("fis", "fis"),
                              ("s3", "s3"), ("scheduler", "scheduler")]:
            setattr(self, name, boto3.client(service, **kw))

    def snapshot(self):
        """Every attribute a fault may change (tests/it/support/moto_state.py's, plus every
        network ACL's id and FIS's templates and running experiments)."""
        ec2, asg, iam = self.ec2, self.asg, self.iam
        out = {"instances": {}, "volumes": {}, "nacl_of_subnet": {}, "firedrill_nacls": [], "nacls": [],
               "asg_subnets": {}, "cluster_writer": {}, "role_policies": {}, "access_keys": {}, "tags": {},
               "fis_templates": [], "fis_running": []}

        def tags(kind, ident, tag_list):
            out["tags"][f"{kind} {ident}"] = sorted(f'{t["Key"]}={t.get("Value", "")}' for t in tag_list or [])

        for page in ec2.get_paginator("describe_instances").paginate():
            for r in page["Reservations"]:
                for i in r["Instances"]:
                    out["instances"][i["InstanceId"]] = i["State"]["Name"]
                    tags("instance", i["InstanceId"], i.get("Tags"))
        for v in ec2.describe_volumes()["Volumes"]:
            tags("volume", v["VolumeId"], v.get("Tags"))
            out["volumes"][v["VolumeId"]] = sorted(
                f'{x["InstanceId"]} {x["Device"]} {x["State"]}' for x in v.get("Attachments", []))
        for acl in ec2.describe_network_acls()["NetworkAcls"]:
            out["nacls"].append(acl["NetworkAclId"])
            for assoc in acl.get("Associations", []):
                out["nacl_of_subnet"][assoc["SubnetId"]] = acl["NetworkAclId"]
            if any(t["Key"].startswith("firedrill") for t in acl.get("Tags", [])):
                out["firedrill_nacls"].append(acl["NetworkAclId"])
        out["nacls"].sort()
        out["firedrill_nacls"].sort()
        for sn in ec2.describe_subnets()["Subnets"]:
            tags("subnet", sn["SubnetId"], sn.get("Tags"))
        for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
            tags("asg", g["AutoScalingGroupName"], g.get("Tags"))
            out["asg_subnets"][g["AutoScalingGroupName"]] = g.get("VPCZoneIdentifier", "")
        for c in self.rds.describe_db_clusters()["DBClusters"]:
            writers = [m["DBInstanceIdentifier"] for m in c.get("DBClusterMembers", []) if m.get("IsClusterWriter")]
            out["cluster_writer"][c["DBClusterIdentifier"]] = writers[0] if writers else None
            tags("cluster", c["DBClusterIdentifier"], c.get("TagList"))
        for r in iam.list_roles()["Roles"]:
            out["role_policies"][r["RoleName"]] = sorted(iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"])
            tags("role", r["RoleName"], iam.list_role_tags(RoleName=r["RoleName"])["Tags"])
        for u in iam.list_users()["Users"]:
            keys = iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
            out["access_keys"][u["UserName"]] = {k["AccessKeyId"]: k["Status"] for k in keys}
            tags("user", u["UserName"], iam.list_user_tags(UserName=u["UserName"])["Tags"])
        out["fis_templates"] = sorted(t["id"] for t in self.fis.list_experiment_templates()["experimentTemplates"])
        out["fis_running"] = sorted(x["id"] for x in self.fis.list_experiments()["experiments"]
                                    if x["state"]["status"] not in ENDED)
        return out

    def schedules(self):
        """The switch's schedules, as `get_schedule` returns them, in time order."""
        found = []
        for s in self.scheduler.list_schedules(GroupName="default", NamePrefix="firedrill-")["Schedules"]:
            if s["Name"].startswith("firedrill-"):
                found.append(self.scheduler.get_schedule(GroupName="default", Name=s["Name"]))
        found.sort(key=lambda s: (s["ScheduleExpression"], s["Name"]))
        return found

    def fire(self, schedule):
        """Makes one schedule's universal-target call, as EventBridge Scheduler would."""
        m = re.fullmatch(r"arn:aws:scheduler:::aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)", schedule["Target"]["Arn"])
        if not m:
            raise RuntimeError(f"not a universal target: {schedule['Target']['Arn']}")
        service, action = m.groups()
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
        getattr(boto3.client(service, **self.kw), method)(**json.loads(schedule["Target"].get("Input") or "{}"))


# What a fault does to the system, as opposed to firedrill's own marks: tags (leases, undo
# tags) and its network ACLs once nothing is associated with them.
MARKS = ("tags", "firedrill_nacls", "nacls")


def effect(snap):
    return {k: v for k, v in snap.items() if k not in MARKS}


def diff(a, b):
    """The parts of two snapshots that differ, briefly."""
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) == b.get(k):
            continue
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            keys = [i for i in sorted(set(x) | set(y)) if x.get(i) != y.get(i)]
            out.append(f"{k}: " + "; ".join(f"{i}: {x.get(i)} -> {y.get(i)}" for i in keys))
        else:
            out.append(f"{k}: {x} -> {y}")
    return out


def parse_at(expr):
    """`at(yyyy-mm-ddThh:mm:ss)` (UTC) as a Unix time."""
    t = re.fullmatch(r"at\((.+)\)", expr).group(1)
    return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%S"))


def seconds(d):
    """`10m`, `30s`, `1h` as seconds."""
    n, unit = re.fullmatch(r"(\d+)([smh])", d).groups()
    return int(n) * {"s": 1, "m": 60, "h": 3600}[unit]


class Bench:
    def __init__(self, a):
        self.a = a
        self.proc, self.url = start_moto()
        self.aws = Aws(self.url)

    def close(self):
        self.proc.kill()
        self.proc.wait()

    def env(self, key_file):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "FIREDRILL_")) and k != "RUST_LOG"}
        e.update(AWS_ENDPOINT_URL=self.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                 AWS_REGION=REGION, AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null",
                 AWS_SHARED_CREDENTIALS_FILE="/dev/null", FIREDRILL_AWS_POLL=self.a.poll,
                 FIREDRILL_KEY_FILE=str(key_file), NO_COLOR="1")
        if self.a.lock_stale:
            e["FIREDRILL_LOCK_STALE"] = self.a.lock_stale
        return e

    def fresh(self, s3):
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"), timeout=30)
        subprocess.run([str(VENV / "bin/python"), str(ROOT / "demo/seed.py"), "--endpoint", self.url],
                       check=True, stdout=subprocess.DEVNULL)
        if s3:
            self.aws.s3.create_bucket(Bucket=BUCKET)

    def trial(self, kind, path):
        a = self.a
        self.fresh(path == "s3")
        before = self.aws.snapshot()
        with tempfile.TemporaryDirectory(prefix="firedrill-bench-") as d:
            d = Path(d)
            machine_a = d / "a"
            machine_a.mkdir()
            key = machine_a / "installation.key"
            key.write_bytes(os.urandom(32))
            key.chmod(0o600)
            file = machine_a / "scenario.yaml"
            file.write_text(scenario(kind, a.duration, a.grace, path == "dms"))
            state = machine_a / "state"
            remote = ["--state", STATE_URL] if path == "s3" else []
            err_path = machine_a / "stderr"
            with open(err_path, "w") as err, open(machine_a / "stdout", "w") as out:
                run = subprocess.Popen([a.binary, "--state-dir", str(state), *remote, "--log-format", "json", "run",
                                        "--yes", str(file)], cwd=machine_a, env=self.env(key), stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err, start_new_session=True)
            try:
                injected_at = self.wait_injected(run, err_path)
                schedules = self.aws.schedules() if path == "dms" else []
                if path == "dms":
                    # Arming follows the injection's last call: wait until every schedule exists.
                    deadline = time.monotonic() + 30
                    while not schedules and time.monotonic() < deadline:
                        time.sleep(0.05)
                        schedules = self.aws.schedules()
                during = self.aws.snapshot()
                os.killpg(run.pid, signal.SIGKILL)
                t0 = time.monotonic()
                wall0 = time.time()
            finally:
                if run.poll() is None:
                    os.killpg(run.pid, signal.SIGKILL)
                run.wait()
            fault_visible = effect(during) != effect(before)
            res = {"kind": kind, "path": path, "fault_visible": fault_visible}

            r0 = time.monotonic()
            if path == "dms":
                for s in schedules:
                    self.aws.fire(s)
                res["rc"] = 0
                n = len(schedules)
                r = seconds(a.duration) - (wall0 - injected_at)
                g = seconds(a.grace)
                res["formula"] = (r + g, r + g + (n - 1) * 60 if n else None)
                ats = [parse_at(s["ScheduleExpression"]) - wall0 for s in schedules]
                res["at"] = (min(ats), max(ats)) if ats else None
                res["calls"] = [s["Target"]["Arn"].rsplit(":", 2)[-2] + ":" + s["Target"]["Arn"].rsplit(":", 1)[-1]
                                for s in schedules]
            else:
                if path == "journal":
                    cmd, cwd, k = [a.binary, "--state-dir", str(state), "--log-format", "json", "recover"], machine_a, key
                elif path == "s3":
                    machine_b = d / "b"
                    machine_b.mkdir()
                    k = machine_b / "installation.key"
                    shutil.copy(key, k)
                    k.chmod(0o600)
                    cmd = [a.binary, "--state-dir", str(machine_b / "state"), "--state", STATE_URL, "--log-format",
                           "json", "recover"]
                    cwd = machine_b
                else:
                    shutil.rmtree(state)
                    cmd = [a.binary, "--state-dir", str(state), "--log-format", "json", "recover", "--sweep",
                           "--account", ACCOUNT, "--opt-in-tag", "firedrill=allowed", "--yes", "--min-age", "0s"]
                    cwd, k = machine_a, key
                rec = subprocess.run(cmd, cwd=cwd, env=self.env(k), stdin=subprocess.DEVNULL, capture_output=True,
                                     text=True, timeout=300)
                res["rc"] = rec.returncode
                if rec.returncode != 0:
                    res["recover_stderr"] = rec.stderr[-3000:]
            r1 = time.monotonic()
            res["recovery_s"] = r1 - r0

            # Poll until what the fault changed is back, and (except for the switch, which
            # leaves firedrill's marks to `recover`) until the whole snapshot is.
            want_exact = path != "dms"
            deadline = time.monotonic() + a.poll_timeout
            res["effect_s"] = res["restored_s"] = None
            snaps = []
            while True:
                s0 = time.monotonic()
                snap = self.aws.snapshot()
                s1 = time.monotonic()
                snaps.append(s1 - s0)
                # The state was as before when this snapshot began (its reads take
                # `snapshot_s`, printed, and are not counted).
                if res["effect_s"] is None and effect(snap) == effect(before):
                    res["effect_s"] = s0 - t0
                if snap == before:
                    res["restored_s"] = s0 - t0
                    break
                if (not want_exact and res["effect_s"] is not None) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            res["exact"] = snap == before
            res["diff"] = diff(before, snap)
            res["snapshot_s"] = statistics.median(snaps)
            res["polls"] = len(snaps)
            return res

    def wait_injected(self, run, err_path):
        """Waits for the `Injected` JSON status line; returns the wall-clock time it was seen."""
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for line in err_path.read_text().splitlines():
                if line.startswith("{"):
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("status") == "Injected":
                        return time.time()
            if run.poll() is not None:
                raise RuntimeError(f"firedrill exited {run.returncode} before injecting:\n{err_path.read_text()[-3000:]}")
            time.sleep(0.02)
        raise RuntimeError(f"no Injected status line after 180 s:\n{err_path.read_text()[-3000:]}")


def fmt(xs):
    xs = sorted(xs)
    return f"{xs[0]:.2f} / {statistics.median(xs):.2f} / {xs[-1]:.2f} s"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_bin = ROOT / "target/release/firedrill"
    if not default_bin.exists():
        default_bin = ROOT / "target/debug/firedrill"
    ap.add_argument("--binary", default=str(default_bin))
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="comma-separated; `iam_revoke_credentials` means both its /role and /user forms")
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", default="10m", help="the fault's duration (it is killed long before)")
    ap.add_argument("--grace", default="10m", help="the dead man's switch's grace")
    ap.add_argument("--poll", default="100ms", help="FIREDRILL_AWS_POLL for every firedrill command")
    ap.add_argument("--lock-stale", default="", help="FIREDRILL_LOCK_STALE (default: unset, firedrill's 30s)")
    ap.add_argument("--poll-timeout", type=float, default=60, help="seconds to wait for the snapshot to match")
    a = ap.parse_args()
    kinds = []
    for k in a.kinds.split(","):
        picked = [x for x in KINDS if x == k or x.split("/")[0] == k]
        if not picked:
            sys.exit(f"--kinds: unknown kind {k!r} (one of {', '.join(KINDS)})")
        kinds += [x for x in picked if x not in kinds]
    paths = a.paths.split(",")
    for p in paths:
        if p not in PATHS:
            sys.exit(f"--paths: unknown path {p!r} (one of {', '.join(PATHS)})")

    print(f"binary: {a.binary}; FIREDRILL_AWS_POLL={a.poll}; FIREDRILL_LOCK_STALE={a.lock_stale or '30s (default)'}; "
          f"fault duration {a.duration}; switch grace {a.grace}; repeat {a.repeat}", flush=True)
    print(f"load average at start: {loadavg()}", flush=True)
    bench = Bench(a)
    results = {}
    try:
        for kind in kinds:
            for path in paths:
                if path == "dms" and kind in DMS_UNCOVERED:
                    continue
                for i in range(a.repeat):
                    try:
                        r = bench.trial(kind, path)
                    except Exception as e:  # noqa: BLE001 - a failed trial is a result too
                        r = {"kind": kind, "path": path, "error": str(e)}
                    results.setdefault((kind, path), []).append(r)
                    if "error" in r:
                        print(f"{kind} {path} #{i + 1}: ERROR {r['error']}", flush=True)
                        continue
                    t = r["restored_s"] if r["restored_s"] is not None else r["effect_s"]
                    print(f"{kind} {path} #{i + 1}: restored {t if t is None else round(t, 2)} s "
                          f"(effect {r['effect_s'] and round(r['effect_s'], 2)} s), recovery {r['recovery_s']:.2f} s, "
                          f"rc {r['rc']}, exact {r['exact']}, fault visible {r['fault_visible']}, "
                          f"snapshot {r['snapshot_s']:.2f} s x{r['polls']}"
                          + (f", formula {r['formula']}, at {r['at']}, calls {r['calls']}" if path == "dms" else ""),
                          flush=True)
                    if not r["exact"]:
                        shown = r["diff"] if path != "dms" else [x[:160] for x in r["diff"]]
                        print("    differs from before: " + " | ".join(shown), flush=True)
                    if r.get("recover_stderr"):
                        print("    recover stderr: " + r["recover_stderr"].replace("\n", "\n    "), flush=True)
    finally:
        bench.close()
    print(f"load average at end: {loadavg()}", flush=True)
    print()
    print("| fault kind | path | SIGKILL → restored (min / median / max) | recovery command (median) | "
          "snapshot exact | notes |")
    print("|---|---|---:|---:|---|---|")
    for kind in kinds:
        for path in paths:
            if path == "dms" and kind in DMS_UNCOVERED:
                print(f"| `{kind}` | {path} | — | — | — | {DMS_UNCOVERED[kind]} |")
                continue
            rs = results.get((kind, path), [])
            ok = [r for r in rs if "error" not in r]
            errors = len(rs) - len(ok)
            notes = []
            if errors:
                notes.append(f"**{errors} trial(s) failed**")
            if any(not r["fault_visible"] for r in ok):
                notes.append("**fault not visible after SIGKILL**")
            if any(r["rc"] != 0 for r in ok):
                notes.append("**recover exit " + ",".join(str(r["rc"]) for r in ok) + "**")
            if path == "dms":
                if not ok:
                    print(f"| `{kind}` | dms | — | — | — | {'; '.join(notes)} |")
                    continue
                eff = [r["effect_s"] for r in ok if r["effect_s"] is not None]
                f0, f1 = ok[0]["formula"]
                a0, a1 = ok[0]["at"]
                n = len(ok[0]["calls"])
                if len(eff) < len(ok):
                    notes.append("**the calls did not restore the effect**")
                restored = (f"AWS: {f1 / 60:.1f} min (+≤1 min) · measured calls: {fmt(eff)}" if eff else "—")
                notes.append(f"{n} call(s): {', '.join(ok[0]['calls'])}; formula r + grace + {n - 1} min = "
                             f"{f0 / 60:.1f}–{f1 / 60:.1f} min; schedules' at() {a0 / 60:.1f}–{a1 / 60:.1f} min "
                             "after SIGKILL")
                exact = sum(r["exact"] for r in ok)
                leftover = sorted({x.split(":")[0] for r in ok for x in r["diff"]})
                notes.append("left for `recover`: " + ", ".join(leftover) if leftover else "")
                print(f"| `{kind}` | dms | {restored} | {statistics.median(r['recovery_s'] for r in ok):.2f} s | "
                      f"{exact}/{len(ok)} | {'; '.join(x for x in notes if x)} |")
                continue
            if not ok:
                print(f"| `{kind}` | {path} | — | — | — | {'; '.join(notes)} |")
                continue
            exact = sum(r["exact"] for r in ok)
            times = [r["restored_s"] if r["restored_s"] is not None else r["effect_s"] for r in ok]
            if exact < len(ok):
                notes.append("**NOT EXACT**: " + " | ".join(sorted({x for r in ok for x in r["diff"]}))[:400])
            shown = fmt([t for t in times if t is not None]) if any(t is not None for t in times) else "never"
            print(f"| `{kind}` | {path} | {shown} | {statistics.median(r['recovery_s'] for r in ok):.2f} s | "
                  f"{exact}/{len(ok)} | {'; '.join(notes)} |")


if __name__ == "__main__":
    main()

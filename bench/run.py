#!/usr/bin/env python3
"""Benchmark: firedrill's az_outage over N tagged instances against a local moto server.

    .venv/bin/python bench/run.py [--sizes 30,300,1000] [--binary target/release/firedrill]

For each N it starts a fresh moto on a free 127.0.0.1 port, seeds N instances over three
zones (demo/seed.py --minimal), and runs an az_outage (network + stop_instances on
us-east-1a) through the firedrill binary. It prints, per N:

- wall time of resolve (targets + guards), inject and revert, from firedrill's own JSON
  status lines and report.json;
- the AWS API calls firedrill made (report.json `aws.api_calls`, retries included);
- firedrill's peak RSS (GNU time's %M);
- the "floor": the same unavoidable API calls made directly with boto3 against the same
  moto (resolve: a filtered DescribeInstances + DescribeSubnets; inject: DescribeNetworkAcls,
  CreateNetworkAcl, ReplaceNetworkAclAssociation, DescribeInstances of the zone, StopInstances;
  revert: the reverse plus one DescribeInstances to confirm), and firedrill's wall / floor,
  twice: reading DescribeInstances in firedrill's pages of 200 (floor/200), and in pages of
  1000, EC2's largest, for the fewest calls (floor/1000). moto re-filters every instance
  on each page, so against moto more pages cost more than they would against EC2.

--per-launch sets how many instances each RunInstances call of the seed makes, i.e. how
large a reservation is: EC2 (and moto) page DescribeInstances by reservation, so 1 (how
Auto Scaling launches, the default) lets pages bound memory, and 500 puts a whole zone
in one reservation that no page size can split.

--settle R skips the sizes: it runs the same scenario R times with N = 30 (no floor) and
prints, per run, the time from the last revert to the verdict (report.json `duration_ms`
minus the latest `reverted_at_ms`: the lease's release and the settle phase, where every
probe must pass for `stable_for` = 1 s, probes every 1 s), then the median.

Only loopback is used. Nothing is asserted: this prints figures for BENCHMARKS.md.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("FIREDRILL_MOTO_VENV", ROOT / ".venv"))
ZONE = "us-east-1a"
# firedrill's DescribeInstances page size (src/aws/ec2.rs PAGE).
PAGE = 200

SCENARIO = """version: 1
name: bench-az-outage
environment:
  region: us-east-1
  accounts: ["123456789012"]
  opt_in_tag: { key: firedrill, value: allowed }
targets:
  subnets: { type: ec2:subnet, tags: { app: shop } }
  web: { type: ec2:instance, tags: { app: shop, env: staging }, max: 5000 }
steady_state:
  - name: ok
    command: { run: "true" }
    every: 1s
faults:
  - name: lose-a
    az_outage: { zone: us-east-1a, targets: [subnets, web], network: true, stop_instances: true }
    duration: 1s
recovery:
  within: 5m
  stable_for: 1s
  settle_timeout: 1m
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    proc = subprocess.Popen([str(VENV / "bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            return proc, url
        except Exception:
            time.sleep(0.1)
    proc.kill()
    sys.exit("moto did not start")


def floor(url, seed, page):
    """Times the API calls any tool must make for this az_outage, with boto3, reading
    DescribeInstances in pages of `page` (1000, EC2's largest, makes the fewest calls)."""
    kw = dict(region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing", aws_secret_access_key="testing")
    ec2 = boto3.client("ec2", **kw)
    t = {}
    tags = [{"Name": "tag:app", "Values": ["shop"]}, {"Name": "tag:env", "Values": ["staging"]}]
    t0 = time.monotonic()
    def describe(filters):
        return [i["InstanceId"] for p in ec2.get_paginator("describe_instances").paginate(
                    Filters=filters, PaginationConfig={"PageSize": page})
                for r in p["Reservations"] for i in r["Instances"]]

    ids = describe(tags)
    ec2.describe_subnets(Filters=[{"Name": "tag:app", "Values": ["shop"]}])
    t["resolve"] = time.monotonic() - t0
    zone_ids = seed["instances"][ZONE]
    subnet = seed["subnets"][ZONE]
    t0 = time.monotonic()
    assoc = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    a = [x for acl in assoc["NetworkAcls"] for x in acl["Associations"] if x["SubnetId"] == subnet][0]
    clone = ec2.create_network_acl(VpcId=seed["vpc"])["NetworkAcl"]["NetworkAclId"]
    new = ec2.replace_network_acl_association(AssociationId=a["NetworkAclAssociationId"], NetworkAclId=clone)
    describe([{"Name": "instance-id", "Values": zone_ids}])
    ec2.stop_instances(InstanceIds=zone_ids)
    t["inject"] = time.monotonic() - t0
    t0 = time.monotonic()
    describe([{"Name": "instance-id", "Values": zone_ids}])
    ec2.start_instances(InstanceIds=zone_ids)
    describe([{"Name": "instance-id", "Values": zone_ids}])
    ec2.replace_network_acl_association(AssociationId=new["NewAssociationId"], NetworkAclId=a["NetworkAclId"])
    ec2.delete_network_acl(NetworkAclId=clone)
    t["revert"] = time.monotonic() - t0
    assert len(ids) == sum(len(v) for v in seed["instances"].values())
    return t


def run_one(n, binary, per_launch, with_floor=True):
    proc, url = start_moto()
    try:
        floor_t = floor_paged = None
        if with_floor:
            seed = json.loads(subprocess.check_output(
                [str(VENV / "bin/python"), str(ROOT / "demo/seed.py"), "--endpoint", url, "--minimal", "--instances",
                 str(n), "--per-launch", str(per_launch)]))
            floor_t = floor(url, seed, 1000)
            floor_paged = floor(url, seed, PAGE)
            # Fresh state for firedrill: reset and seed again.
            urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"))
        seed = json.loads(subprocess.check_output(
            [str(VENV / "bin/python"), str(ROOT / "demo/seed.py"), "--endpoint", url, "--minimal", "--instances", str(n),
             "--per-launch", str(per_launch)]))
        with tempfile.TemporaryDirectory() as d:
            scenario = Path(d) / "bench.yaml"
            scenario.write_text(SCENARIO)
            env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                       AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null",
                       AWS_SHARED_CREDENTIALS_FILE="/dev/null", FIREDRILL_AWS_POLL="100ms")
            out, err, rss = Path(d) / "out", Path(d) / "err", Path(d) / "rss"
            t0 = time.monotonic()
            with open(out, "w") as o, open(err, "w") as e:
                # GNU time measures firedrill's own peak RSS. (getrusage/wait4 from here would
                # report Python's: a forked child's max RSS includes its life before exec.)
                child = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), binary, "--state-dir", d,
                                        "--log-format", "json", "--endpoint-url", url, "run", "--yes", str(scenario)],
                                       env=env, stdout=o, stderr=e)
            total = time.monotonic() - t0
            rss_kb = int(rss.read_text().split()[-1])
            if child.returncode != 0:
                sys.exit(f"firedrill exited {child.returncode}:\n{err.read_text()}")
            run_dir = Path(out.read_text().strip().splitlines()[-1])
            report = json.loads((run_dir / "report.json").read_text())
            lines = [json.loads(l) for l in err.read_text().splitlines() if l.startswith("{")]
        ts = {}
        for l in lines:
            ts.setdefault(l.get("status", ""), l["ts"])
        f = report["faults"][0]
        parse = lambda s: time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) + float("0." + s[20:23])
        resolve = parse(ts["Running"]) - parse(ts["Resolving"])
        inject = (f["injected_at_ms"] - f["inject_started_at_ms"]) / 1000
        revert = (f["reverted_at_ms"] - f["revert_started_at_ms"]) / 1000
        return {
            "n": n, "zone_instances": len(seed["instances"][ZONE]),
            "resolve_s": resolve, "inject_s": inject, "revert_s": revert,
            "api_calls": report["aws"]["api_calls"], "peak_rss_mb": rss_kb / 1024,
            "floor": floor_t, "floor_paged": floor_paged, "total_s": total,
            "settle_s": (report["duration_ms"] - max(x["reverted_at_ms"] for x in report["faults"])) / 1000,
        }
    finally:
        proc.kill()
        proc.wait()


def main():
    if not os.path.exists("/usr/bin/time"):
        sys.exit("bench/run.py needs GNU time for peak RSS: apt-get install time")
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="30,300,1000")
    default_bin = ROOT / "target/release/firedrill"
    if not default_bin.exists():
        default_bin = ROOT / "target/debug/firedrill"
    ap.add_argument("--binary", default=str(default_bin))
    ap.add_argument("--per-launch", type=int, default=1,
                    help="instances per RunInstances call when seeding: 1 is how Auto Scaling launches; "
                         "500 puts a zone's instances in one reservation, which EC2 cannot page")
    ap.add_argument("--settle", type=int, default=0, metavar="R",
                    help="instead of the sizes: R runs with N = 30, printing the time from the last revert "
                         "to the verdict")
    a = ap.parse_args()
    if a.settle:
        print(f"binary: {a.binary}; last revert -> verdict (stable_for 1s, probe every 1s), N = 30")
        got = []
        for i in range(a.settle):
            r = run_one(30, a.binary, a.per_launch, with_floor=False)
            got.append(r["settle_s"])
            print(f"  run {i + 1}: {r['settle_s']:.3f}s", flush=True)
        got.sort()
        print(f"  min {got[0]:.3f}s, median {got[len(got) // 2]:.3f}s, max {got[-1]:.3f}s")
        return
    print(f"binary: {a.binary}; seeded {a.per_launch} instance(s) per launch")
    print(f"{'N':>5} {'in zone':>7} {'resolve':>8} {'inject':>8} {'revert':>8} {'fd total':>9} "
          f"{'floor/200':>9} {'ratio':>6} {'floor/1000':>10} {'ratio':>6} {'calls':>6} {'peak RSS':>9}")
    for n in [int(x) for x in a.sizes.split(",")]:
        r = run_one(n, a.binary, a.per_launch)
        fd = r["resolve_s"] + r["inject_s"] + r["revert_s"]
        fp = sum(r["floor_paged"].values())
        fl = sum(r["floor"].values())
        print(f"{r['n']:>5} {r['zone_instances']:>7} {r['resolve_s']:>7.2f}s {r['inject_s']:>7.2f}s "
              f"{r['revert_s']:>7.2f}s {fd:>8.2f}s {fp:>8.2f}s {fd / fp:>6.2f} {fl:>9.2f}s {fd / fl:>6.2f} "
              f"{r['api_calls']:>6} {r['peak_rss_mb']:>7.1f}MB", flush=True)
        for name in ("floor_paged", "floor"):
            f = r[name]
            print(f"      {name}: resolve {f['resolve']:.2f}s, inject {f['inject']:.2f}s, revert {f['revert']:.2f}s",
                  flush=True)

if __name__ == "__main__":
    main()

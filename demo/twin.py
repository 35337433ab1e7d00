#!/usr/bin/env python3
"""The staging twin's controller: plays, beside an AWS emulator (moto), the parts of AWS that
moto does not model, so that a game day against the seeded shop (demo/seed.py) sees impact.

    python demo/twin.py --endpoint http://127.0.0.1:5000 [--port 18081] [--poll 1] [--grace 3]

Every --poll seconds it reads moto and:
- counts the shop's healthy capacity: the instances tagged --tag (default app=shop,
  env=staging) that are running in a subnet whose network ACL allows traffic in (the
  deny-all ACL of firedrill's az_outage allows nothing: that zone is down);
- serves http://127.0.0.1:PORT/ (any path): 200 `ok` while healthy capacity is at least
  --need (default: the capacity when the twin started), else 503 `degraded` — a load
  balancer's view of the shop;
- acts as Auto Scaling for that fleet (moto's Auto Scaling has no health checks and does
  not notice a stopped instance): an instance out of service for --grace seconds gets a
  replacement, launched from the launch template of the group --group into one of the
  group's subnets that is up (the zone firedrill took out of the group is not used), tagged
  like the fleet plus twin=replacement. The instance itself is left alone (firedrill
  starts it again on revert); once capacity is above the fleet's size again, the
  replacements are terminated, newest first (a scale-in);
- acts as CloudWatch for the shop's error rate: publishes ErrorRate (percent of requests
  answered 503 since the last poll; with no requests, 100 while degraded) to the
  namespace Shop/Twin, and keeps the alarm --alarm on it (≥ 50 % for --page-after
  seconds), with an SNS topic (--topic) as its action, so it pages. moto never evaluates
  alarms: the twin sets the state, with SetAlarmState, when it changes.

It prints one JSON line on stdout once it serves ({"url", "need", "alarm", ...}) and logs
what it does on stderr. It talks to 127.0.0.1 only: the --endpoint must be a 127.0.0.1
URL, and it listens on 127.0.0.1. On Linux it dies with the process that started it.
Flags can also come from the environment: FIREDRILL_TWIN_POLL, FIREDRILL_TWIN_GRACE,
FIREDRILL_TWIN_PAGE_AFTER, FIREDRILL_TWIN_PORT.
"""
import argparse
import ctypes
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import boto3

REGION = "us-east-1"
NAMESPACE = "Shop/Twin"
METRIC = "ErrorRate"
THRESHOLD = 50.0
REPLACEMENT = {"Key": "twin", "Value": "replacement"}


def log(msg):
    print(f"twin {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def die_with_parent():
    """PR_SET_PDEATHSIG: on Linux, a SIGTERM when the process that started the twin exits."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    except Exception:
        pass


def env_default(name, fallback):
    return os.environ.get(name, fallback)


class Shop:
    """What the HTTP endpoint serves, and what it has served since the last poll."""

    def __init__(self, need):
        self.lock = threading.Lock()
        self.need = need
        self.healthy = need
        self.requests = 0
        self.errors = 0

    def degraded(self):
        return self.healthy < self.need

    def answer(self):
        with self.lock:
            self.requests += 1
            bad = self.degraded()
            if bad:
                self.errors += 1
            return (503 if bad else 200), {"status": "degraded" if bad else "ok", "healthy": self.healthy,
                                           "need": self.need}

    def error_rate(self):
        """Percent of requests answered 503 since the last call (100/0 by state when none came)."""
        with self.lock:
            if self.requests:
                rate = 100.0 * self.errors / self.requests
            else:
                rate = 100.0 if self.degraded() else 0.0
            self.requests = self.errors = 0
            return rate


def serve(shop, port):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = shop.answer()
            data = (json.dumps(body) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Twin:
    def __init__(self, a):
        kw = dict(region_name=REGION, endpoint_url=a.endpoint, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        self.ec2 = boto3.client("ec2", **kw)
        self.asg = boto3.client("autoscaling", **kw)
        self.cw = boto3.client("cloudwatch", **kw)
        self.sns = boto3.client("sns", **kw)
        self.a = a
        self.tags = [dict(zip(("Key", "Value"), t.split("=", 1))) for t in a.tag]
        self.opt_in = dict(zip(("Key", "Value"), a.opt_in.split("=", 1)))
        self.down_since = {}  # instance id -> monotonic time it went out of service
        self.replaced = set()  # instance ids with a replacement running for them
        self.breach_since = None
        self.alarm_state = "OK"

    # --- reading moto -------------------------------------------------------------------
    def fleet(self):
        filters = [{"Name": f"tag:{t['Key']}", "Values": [t["Value"]]} for t in self.tags]
        filters.append({"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]})
        out = []
        for page in self.ec2.get_paginator("describe_instances").paginate(Filters=filters):
            for r in page["Reservations"]:
                out += r["Instances"]
        return out

    def down_subnets(self):
        """Subnets whose network ACL lets nothing in: that zone is down for the shop."""
        down = set()
        for acl in self.ec2.describe_network_acls()["NetworkAcls"]:
            allows = any(e["RuleAction"] == "allow" and not e["Egress"] for e in acl.get("Entries", []))
            if not allows:
                down |= {x["SubnetId"] for x in acl.get("Associations", [])}
        return down

    def group(self):
        gs = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.a.group])["AutoScalingGroups"]
        return gs[0] if gs else None

    # --- CloudWatch's part --------------------------------------------------------------
    def create_alarm(self):
        topic = self.sns.create_topic(Name=self.a.topic)["TopicArn"]
        self.cw.put_metric_alarm(
            AlarmName=self.a.alarm,
            AlarmDescription="Pages on-call: the shop answers 503 to half its requests or more",
            Namespace=NAMESPACE,
            MetricName=METRIC,
            Statistic="Average",
            Period=self.a.page_after,
            EvaluationPeriods=1,
            Threshold=THRESHOLD,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Unit="Percent",
            ActionsEnabled=True,
            AlarmActions=[topic],
            OKActions=[topic],
        )
        self.cw.set_alarm_state(AlarmName=self.a.alarm, StateValue="OK", StateReason="staging twin started")
        return topic

    def evaluate(self, rate, now):
        """The alarm as CloudWatch evaluates it: ALARM once the rate has breached for a whole
        period (--page-after), OK at the first datapoint that does not breach."""
        self.cw.put_metric_data(Namespace=NAMESPACE, MetricData=[{"MetricName": METRIC, "Value": rate,
                                                                  "Unit": "Percent"}])
        if rate >= THRESHOLD:
            self.breach_since = self.breach_since if self.breach_since is not None else now
            if self.alarm_state != "ALARM" and now - self.breach_since >= self.a.page_after:
                self.set_alarm("ALARM", f"Threshold Crossed: {METRIC} {rate:.0f}% >= {THRESHOLD:.0f}% "
                                        f"for {self.a.page_after}s")
        else:
            self.breach_since = None
            if self.alarm_state != "OK":
                self.set_alarm("OK", f"Threshold no longer crossed: {METRIC} {rate:.0f}% < {THRESHOLD:.0f}%")

    def set_alarm(self, state, reason):
        self.cw.set_alarm_state(AlarmName=self.a.alarm, StateValue=state, StateReason=reason)
        self.alarm_state = state
        log(f"alarm {self.a.alarm} -> {state}: {reason}" + (" (pages the on-call topic)" if state == "ALARM" else ""))

    # --- Auto Scaling's part ------------------------------------------------------------
    def launch(self, group, subnet, replaces):
        spec = group.get("LaunchTemplate") or {}
        template = {k: spec[k] for k in ("LaunchTemplateId", "LaunchTemplateName") if spec.get(k)}
        template["Version"] = spec.get("Version", "$Latest")
        tags = self.tags + [self.opt_in, REPLACEMENT, {"Key": "twin:replaces", "Value": replaces}]
        r = self.ec2.run_instances(
            LaunchTemplate=template, MinCount=1, MaxCount=1, SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        return r["Instances"][0]["InstanceId"]

    def scale(self, fleet, healthy_ids, down, now):
        group = self.group()
        if group is None:
            return
        usable = [s for s in group.get("VPCZoneIdentifier", "").split(",") if s and s not in down]
        # Replace what has been out of service for the grace period.
        overdue = [i["InstanceId"] for i in fleet if i["InstanceId"] not in healthy_ids
                   and i["InstanceId"] not in self.replaced
                   and now - self.down_since.get(i["InstanceId"], now) >= self.a.grace]
        for n, iid in enumerate(overdue):
            if len(healthy_ids) + n >= self.a.desired:
                break
            if not usable:
                log(f"{iid} is out of service but group {self.a.group} has no subnet that is up: nothing to launch")
                break
            subnet = usable[(len(self.replaced)) % len(usable)]
            new = self.launch(group, subnet, iid)
            self.replaced.add(iid)
            log(f"{iid} out of service for {self.a.grace:g}s: launched {new} in {subnet} to replace it")
        # Scale in: more healthy than the fleet's size, and replacements to give back.
        surplus = len(healthy_ids) - self.a.desired
        if surplus > 0:
            mine = [i for i in fleet if i["InstanceId"] in healthy_ids and REPLACEMENT in i.get("Tags", [])]
            mine.sort(key=lambda i: i["LaunchTime"], reverse=True)
            gone = [i["InstanceId"] for i in mine[:surplus]]
            if gone:
                self.ec2.terminate_instances(InstanceIds=gone)
                log(f"capacity above {self.a.desired}: terminated replacement(s) {', '.join(gone)} (scale-in)")

    # --- the loop ------------------------------------------------------------------------
    def read(self, now):
        fleet = self.fleet()
        down = self.down_subnets()
        healthy_ids = {i["InstanceId"] for i in fleet
                       if i["State"]["Name"] == "running" and i.get("SubnetId") not in down}
        for i in fleet:
            iid = i["InstanceId"]
            if iid in healthy_ids:
                self.down_since.pop(iid, None)
                self.replaced.discard(iid)
            else:
                self.down_since.setdefault(iid, now)
        return fleet, healthy_ids, down

    def poll(self, shop):
        now = time.monotonic()
        fleet, healthy_ids, down = self.read(now)
        with shop.lock:
            was = shop.degraded()
            shop.healthy = len(healthy_ids)
            now_degraded = shop.degraded()
        if was != now_degraded:
            why = f" (subnets down: {', '.join(sorted(down))})" if down else ""
            log(f"capacity {len(healthy_ids)}/{shop.need}{why}: serving "
                + ("503" if now_degraded else "200"))
        self.evaluate(shop.error_rate(), now)
        self.scale(fleet, healthy_ids, down, now)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True, help="moto's URL, on 127.0.0.1")
    ap.add_argument("--port", type=int, default=int(env_default("FIREDRILL_TWIN_PORT", "0")),
                    help="port to serve the shop on, on 127.0.0.1 (0: a free one; printed)")
    ap.add_argument("--poll", type=float, default=float(env_default("FIREDRILL_TWIN_POLL", "1")),
                    help="seconds between reads of moto (default 1)")
    ap.add_argument("--grace", type=float, default=float(env_default("FIREDRILL_TWIN_GRACE", "3")),
                    help="seconds an instance is out of service before its replacement is launched (default 3)")
    ap.add_argument("--page-after", type=int, default=int(env_default("FIREDRILL_TWIN_PAGE_AFTER", "10")),
                    help="seconds of errors before the alarm pages: its period (default 10)")
    ap.add_argument("--tag", action="append", help="KEY=VALUE selecting the fleet (default app=shop env=staging)")
    ap.add_argument("--need", type=int, help="healthy instances the shop needs (default: as many as at start)")
    ap.add_argument("--group", default="shop-web", help="Auto Scaling group whose launch template and subnets "
                                                        "replacements use (default shop-web)")
    ap.add_argument("--opt-in", default="firedrill=allowed", help="opt-in tag replacements carry")
    ap.add_argument("--alarm", default="shop-web-errors", help="the paging alarm (default shop-web-errors)")
    ap.add_argument("--topic", default="shop-oncall", help="SNS topic the alarm pages (default shop-oncall)")
    a = ap.parse_args()
    a.tag = a.tag or ["app=shop", "env=staging"]
    if urlparse(a.endpoint).hostname != "127.0.0.1":
        sys.exit(f"twin.py only talks to an emulator on 127.0.0.1, not {urlparse(a.endpoint).hostname}")
    for t in a.tag + [a.opt_in]:
        if "=" not in t:
            sys.exit(f"twin.py: a tag is KEY=VALUE, not {t!r}")
    if a.poll <= 0 or a.grace < 0 or a.page_after < 1:
        sys.exit("twin.py: --poll must be above 0, --grace at least 0 and --page-after at least 1")
    die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    twin = Twin(a)
    fleet, healthy_ids, _ = twin.read(time.monotonic())
    a.desired = len(fleet)
    need = a.need if a.need is not None else len(healthy_ids)
    if need < 1:
        sys.exit(f"twin.py: no running instance is tagged {' '.join(a.tag)}: seed the shop first (demo/seed.py)")
    shop = Shop(need)
    shop.healthy = len(healthy_ids)
    topic = twin.create_alarm()
    try:
        server = serve(shop, a.port)
    except OSError as e:
        sys.exit(f"twin.py: cannot listen on 127.0.0.1:{a.port}: {e.strerror or e}")
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    print(json.dumps({"url": url, "need": need, "fleet": a.desired, "alarm": a.alarm, "topic": topic,
                      "poll": a.poll, "grace": a.grace, "page_after": a.page_after}), flush=True)
    log(f"serving {url}: capacity {shop.healthy}/{need}; replacements after {a.grace:g}s out of service; "
        f"alarm {a.alarm} pages after {a.page_after}s of errors")
    while True:
        started = time.monotonic()
        try:
            twin.poll(shop)
        except Exception as e:  # moto busy or restarting: try again next poll
            log(f"could not read the emulator: {e}")
        time.sleep(max(0.0, a.poll - (time.monotonic() - started)))


if __name__ == "__main__":
    main()

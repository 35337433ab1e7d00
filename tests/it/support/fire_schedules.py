#!/usr/bin/env python3
"""Plays EventBridge Scheduler for firedrill's dead man's switch against moto (which stores
schedules but never fires them): reads every schedule of a group whose name starts with a
prefix, and makes each one's universal-target call (`arn:aws:scheduler:::aws-sdk:SERVICE:
apiAction`, its Input as the call's parameters; boto3 takes the same PascalCase names) in
the order of their `at(...)` times. With `--list` it only prints them. Prints what it did
as JSON. Only talks to loopback."""
import argparse
import json
import re
import sys
from urllib.parse import urlparse

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--group", default="default")
    ap.add_argument("--prefix", default="firedrill-")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if urlparse(a.endpoint).hostname not in ("127.0.0.1", "localhost"):
        sys.exit("loopback only")
    kw = dict(region_name="us-east-1", endpoint_url=a.endpoint, aws_access_key_id="testing",
              aws_secret_access_key="testing")
    scheduler = boto3.client("scheduler", **kw)
    schedules = []
    for s in scheduler.list_schedules(GroupName=a.group, NamePrefix=a.prefix)["Schedules"]:
        # moto ignores NamePrefix on older versions: filter here too.
        if not s["Name"].startswith(a.prefix):
            continue
        full = scheduler.get_schedule(GroupName=a.group, Name=s["Name"])
        schedules.append({
            "name": full["Name"],
            "expression": full["ScheduleExpression"],
            "timezone": full.get("ScheduleExpressionTimezone"),
            "window": full["FlexibleTimeWindow"]["Mode"],
            "after_completion": full.get("ActionAfterCompletion"),
            "arn": full["Target"]["Arn"],
            "role": full["Target"]["RoleArn"],
            "input": json.loads(full["Target"].get("Input") or "{}"),
        })
    schedules.sort(key=lambda s: (s["expression"], s["name"]))
    if not a.list:
        for s in schedules:
            m = re.fullmatch(r"arn:aws:scheduler:::aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)", s["arn"])
            if not m:
                sys.exit(f"not a universal target: {s['arn']}")
            service, action = m.groups()
            method = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
            getattr(boto3.client(service, **kw), method)(**s["input"])
    print(json.dumps(schedules, sort_keys=True))


if __name__ == "__main__":
    main()

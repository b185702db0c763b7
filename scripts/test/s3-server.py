#!/usr/bin/env python3
"""An S3-compatible server on loopback for the tests (moto's): s3-server.py PORT KEYFILE [--auth].

Creates the bucket `sbs-backups` and an access key, writes {"access_key_id", "secret_access_key"} into KEYFILE
(0600, renamed into place) once it serves, then serves until killed. With --auth, every request after the setup must be signed with that key
(moto's IAM checks); without, any key is accepted (moto's signature check refuses restic's listings, whose
unescaped '/' it canonicalises differently, so a whole backup runs against the server without --auth).
"""
import json
import os
import sys
import time

port = int(sys.argv[1])
keyfile = sys.argv[2]
auth = "--auth" in sys.argv[3:]
if auth:
    # The three setup calls below are made before IAM's checks start.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
endpoint = f"http://127.0.0.1:{port}"
setup = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **setup)
iam.create_user(UserName="sbs")
iam.put_user_policy(
    UserName="sbs",
    PolicyName="backups",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    ),
)
key = iam.create_access_key(UserName="sbs")["AccessKey"]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
s3.create_bucket(Bucket="sbs-backups")
partial = keyfile + ".partial"
with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
    json.dump({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}, out)
os.rename(partial, keyfile)
while True:
    time.sleep(3600)

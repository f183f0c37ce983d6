#!/usr/bin/env python3
"""Posts the products and source a generated fact set refers to (the
`.setup.ndjson` that gen_facts.py writes), one request a line.

usage: post_setup.py PORT KEY SETUP_NDJSON
"""
import http.client
import json
import sys

port, key, path = sys.argv[1:]
conn = http.client.HTTPConnection("127.0.0.1", int(port))
headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
for line in open(path):
    item = json.loads(line)
    conn.request("POST", f"/v1/{item['kind']}s", json.dumps(item["body"]), headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 201, (response.status, item)

#!/usr/bin/env python3
"""A dynamic inventory script in the format of Ansible's "Developing dynamic inventory" guide."""

import json
import sys

INVENTORY = {
    "web": {"hosts": ["web-s1", "web-s2"], "vars": {"ansible_user": "www"}},
    "db": {"hosts": ["db-s1"], "children": ["backup"]},
    "backup": {"hosts": ["bk-s1"]},
    "_meta": {
        "hostvars": {
            "web-s1": {"ansible_host": "10.30.0.1"},
            "web-s2": {"ansible_ssh_host": "10.30.0.2", "ansible_port": 2022},
            "bk-s1": {"ansible_connection": "community.docker.docker"},
        }
    },
}

if "--list" in sys.argv:
    print(json.dumps(INVENTORY))
else:
    print(json.dumps({}))

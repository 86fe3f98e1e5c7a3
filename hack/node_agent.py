#!/usr/bin/env python3
"""Entry point of the dev cluster's node agent (see hack/nodeagent/). Not part of the operator."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nodeagent.cgroups import CPU_ROOT, PodCgroups, parent_name
from nodeagent.processes import kill_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubeconfig", required=False)
    parser.add_argument("--node-name", default="kuantum-node")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--entrypoint", action="append", default=["kuantum-solver=kuantum-solve"],
                        metavar="IMAGE=COMMAND", help="local command standing in for an image's ENTRYPOINT")
    parser.add_argument("--kill-all", action="store_true", help="SIGKILL every recorded container process, then exit")
    args = parser.parse_args()
    if args.kill_all:
        print(f"killed {kill_all(args.state_dir)} container processes")
        PodCgroups(CPU_ROOT / parent_name(args.state_dir)).remove_all()
        return 0

    from kubernetes import client, config
    from nodeagent.agent import NodeAgent

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config.load_kube_config(config_file=args.kubeconfig)
    entrypoints = {}
    for item in args.entrypoint:
        image, _, command = item.partition("=")
        entrypoints[image] = command.split()
    agent = NodeAgent(client.CoreV1Api(), args.node_name, args.state_dir, entrypoints)

    def stop(*_: object) -> None:
        # Container processes keep running on purpose (like containers across a kubelet restart);
        # hack/cluster-down.sh ends them with --kill-all.
        agent.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

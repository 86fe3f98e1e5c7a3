"""A tiny stand-in for the kubelet, for the dev cluster only (not part of the operator).

It registers one Ready Node and runs each container of the pods bound to it as a local process.
"""

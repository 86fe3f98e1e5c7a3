"""The `kuantum` command: submit QuantumJobs, list and inspect them, fetch their output, cancel them."""

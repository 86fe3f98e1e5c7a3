"""Ways of running a job, one folder each, behind one small interface (base.Backend).

`pod/` runs solver and simulator targets (and remote targets in emulation) as a batch Job;
`providers/ionq/` and `providers/quantinuum/` send circuits to the providers' HTTP APIs. The catalog names each
target's backend; `Backends.for_target` picks it, honouring `Provider.spec.targets[].backend`.
"""

"""The resource estimator (`microsoft.estimator`, provider `microsoft-qc`): QIR (`qir.v1`) →
`microsoft.resource-estimates.v1`.

`params` checks Azure's estimator parameters and `counts` counts a QIR program's logical resources with
pyqir (both light: no engine); `run` turns counts into physical estimates with the QDK's open-source
estimator (the `qdk` package's native `physical_estimates`, what `qsharp.estimate` uses).
"""

"""The resource estimator (`microsoft.estimator`, provider `microsoft-qc`): QIR (`qir.v1`) →
`microsoft.resource-estimates.v1`.

`counts` counts a QIR program's logical resources with pyqir (light: no engine); `run` turns counts into
physical estimates with the QDK's open-source estimator (the `qdk` package's native `physical_estimates`, what
`qsharp.estimate` uses). Azure's estimator parameters are checked by a format (formats/params/estimator.py), since
the catalog's `validate_params` runs them.
"""

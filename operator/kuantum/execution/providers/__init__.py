"""Hardware providers' HTTP APIs: what they share (remote backend, HTTP client, translations), one folder each."""

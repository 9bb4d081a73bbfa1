"""Diagnostics: collector specs, the collection script, redaction, bundles, fingerprints."""

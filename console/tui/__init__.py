"""The operations console: a keyboard-driven Textual app over console.ops, the cluster and telemetry."""

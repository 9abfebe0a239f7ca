"""What an operator sees of a running server or worker: logs, metrics and traces.

Use cases import none of this: the transport records calls through call-pipeline steps, and
the composition root wraps the kernel and the storage adapters so that their calls are timed
and traced (see `instrument`).
"""

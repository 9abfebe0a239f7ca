"""The composition root: the one place that turns settings into stores, use cases and processes.

`core` chooses the stores and builds the use cases every process shares, `jobs` the runtime that
runs operations, `server` an `adpulse serve` process (servicers, call pipeline, upkeep) and
`worker` an `adpulse worker` process, which imports nothing of the gRPC transport.
"""

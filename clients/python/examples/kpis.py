"""Prints KPIs grouped by dimensions, one JSON object per row, exactly as
`adpulse kpis --by DIM --json` prints its rows. Reads ADPULSE_TARGET, ADPULSE_API_KEY and the
optional ADPULSE_TENANT.

    python clients/python/examples/kpis.py --by platform --from 2026-03-01 --to 2026-03-31
"""

from __future__ import annotations

import argparse
import json
import os

from adpulse.client import AdpulseClient
from adpulse.client.analytics_calls import DIMENSIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--by", action="append", default=[], choices=sorted(DIMENSIONS), help="group by")
    parser.add_argument("--from", dest="start", default="", help="first date, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", default="", help="last date, YYYY-MM-DD")
    args = parser.parse_args()
    with AdpulseClient(os.environ.get("ADPULSE_TARGET"), tenant=os.environ.get("ADPULSE_TENANT")) as client:
        for row in client.query_metrics(start=args.start, end=args.end, by=args.by).rows:
            print(json.dumps(row.as_json(), ensure_ascii=False))


if __name__ == "__main__":
    main()

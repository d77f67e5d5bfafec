import time
from datetime import UTC, datetime
from sqlalchemy import text
from civic_api.seed.demo_reports import insert_demo_reports

def test_scratch(client, db):
    insert_demo_reports(db.connection(), 50000, seed=7, now=datetime(2026, 6, 30, 12, tzinfo=UTC)); db.commit()
    db.execute(text("analyze"))
    for path in ["/ogc/collections", "/ogc/collections/report-points/items?limit=100", "/ogc/collections/report-points/items?limit=10000",
                 "/ogc/collections/report-points/items?limit=100&offset=9000",
                 "/ogc/collections/report-points/items?limit=100&bbox=21.15,42.65,21.17,42.67",
                 "/ogc/collections/report-points/items?limit=100&datetime=2026-03-01/2026-03-31",
                 "/ogc/collections/heatmap-cells/items?limit=10000&resolution=9&category=waste",
                 "/ogc/collections/heatmap-cells/items?limit=100&resolution=8",
                 ]:
        for _ in range(3):
            t=time.perf_counter(); r = client.get(path); dt=time.perf_counter()-t
        print(path, r.status_code, f"{dt*1000:.0f}ms", len(r.data), r.json.get("numberMatched") if r.is_json else "")

"""Adoption reporting: the figures of the dashboard and of the weekly report.

- ``periods``: ISO weeks and days, bounded in each venue's local time;
- ``scope``: the whole country, an area (with its districts), a venue or a kiosk;
- ``queries``: the aggregate SELECTs (GROUP BY in the database, never a loop over events);
- ``figures``: the grouped rows filed as counts and promos;
- ``weekly``, ``dashboard``: what each page or file shows, as values;
- ``tables``, ``formats``, ``texts``, ``charts``: HTML, CSV, XLSX and SVG, in vi or en;
- ``commands``: ``signage-server report weekly`` and ``signage-server poster``.

docs/reports.md says what each figure means.
"""

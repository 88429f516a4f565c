"""导出: the console's CSV and XLSX downloads of what a page shows, in scope, never formulas."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from rules.core.model import Finding, OfficerTask, TaskKind
from tests.console.conftest import GROUP_A, GROUP_B, OFFICER_A, ConsoleEnv

FORMULA = '=HYPERLINK("https://evil.example","点我")'


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads the Chinese right
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def test_the_case_export_is_what_the_list_shows(env: ConsoleEnv) -> None:
    gambling = [await env.case(f"网赌{n}") for n in range(3)]
    await env.case("刷屏", findings=[Finding("flood", "flood", "刷屏", 0, 2)])
    hostile = await env.case(FORMULA + " 网赌", card="@SUM(1+1)")
    await env.case("网赌", group=GROUP_B)
    client = await env.signed_in(OFFICER_A)
    listed = (await client.get("/console/cases", params={"category": "赌博"})).text
    assert 'href="/console/cases/export?category=%E8%B5%8C%E5%8D%9A&amp;format=csv"' in listed
    response = await client.get(
        "/console/cases/export", params={"category": "赌博", "format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="groupguard-cases-' in response.headers["content-disposition"]
    rows = read_csv(response.content)
    assert rows[0][:3] == ["case", "time", "group"]
    assert [int(r[0]) for r in rows[1:]] == [hostile, *reversed(gambling)]
    assert {r[2] for r in rows[1:]} == {GROUP_A}
    by_id = {int(r[0]): r for r in rows[1:]}
    assert by_id[hostile][6].startswith("'=HYPERLINK") and by_id[hostile][4] == "'@SUM(1+1)"
    assert by_id[gambling[0]][9] == "delete:done"

    xlsx = await client.get("/console/cases/export", params={"format": "xlsx"})
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert all(c.data_type != "f" for c in cells)  # no formula, whatever the text
    assert sheet.max_row == 1 + 5
    assert (await client.get("/console/cases/export", params={"format": "pdf"})).status_code == 400
    hidden = await client.get("/console/cases/export", params={"group": GROUP_B})
    assert hidden.status_code == 404
    assert (await env.client().get("/console/cases/export")).status_code == 401


async def test_the_audit_and_to_do_exports(env: ConsoleEnv) -> None:
    await env.runtime.storage.tasks.add_task(
        OfficerTask(TaskKind.REPORT, GROUP_A, "qq:1", env.clock(), subject_id="qq:2", text=FORMULA)
    )
    await env.runtime.storage.tasks.add_task(
        OfficerTask(TaskKind.REPORT, GROUP_B, "qq:1", env.clock(), subject_id="qq:2")
    )
    client = await env.signed_in(OFFICER_A)
    tasks = read_csv((await client.get("/console/tasks/export")).content)
    assert len(tasks) == 2 and tasks[1][2] == GROUP_A and tasks[1][7].startswith("'=")
    await client.get("/console/cases/export")
    audit = read_csv((await client.get("/console/audit/export")).content)
    assert audit[0] == ["id", "time", "actor", "group", "command", "outcome"]
    page = (await client.get("/console/audit", params={"member": OFFICER_A})).text
    assert "export cases (csv)" in page  # their own entries of no group, with the address
    assert "203.0.113.7" in page

"""The audit log service: records land with the caller's transaction; lists are per organisation."""

from app.db.engine import SessionFactory
from app.db.models import AuditRecord, Operator
from app.services import audit
from app.services.alerts import NETWORK, OperatorScope


async def _operator(session_factory: SessionFactory, name: str) -> int:
    async with session_factory() as db:
        row = Operator(name=name)
        db.add(row)
        await db.commit()
        assert row.id is not None
        return row.id


async def test_record_is_committed_with_the_callers_transaction_only(
    session_factory: SessionFactory,
) -> None:
    org = await _operator(session_factory, "Org")
    async with session_factory() as db:
        await audit.record(
            db=db, actor="operator-user:1", operator_id=org, action="x.do", target="t:1"
        )
        await db.rollback()
    async with session_factory() as db:
        await audit.record(
            db=db,
            actor="operator-user:1",
            operator_id=org,
            action="x.do",
            target="t:2",
            result="REJECTED",
            detail={"why": "test"},
        )
        await db.commit()
    page = await audit.list_records(
        session_factory=session_factory, scope=NETWORK, filter=audit.AuditFilter(), first=10
    )
    assert [(r.target, r.result, r.detail) for r in page.records] == [
        ("t:2", "REJECTED", {"why": "test"})
    ]


async def test_list_is_scoped_to_the_organisation_newest_first_and_paged(
    session_factory: SessionFactory,
) -> None:
    mine, theirs = await _operator(session_factory, "Mine"), await _operator(session_factory, "T")
    for n in range(3):
        await audit.record_now(
            session_factory=session_factory,
            actor="cli",
            operator_id=mine,
            action="a",
            target=f"mine:{n}",
        )
    await audit.record_now(
        session_factory=session_factory, actor="cli", operator_id=theirs, action="a", target="x"
    )
    scope = OperatorScope(operator_id=mine)
    first = await audit.list_records(
        session_factory=session_factory, scope=scope, filter=audit.AuditFilter(), first=2
    )
    assert [r.target for r in first.records] == ["mine:2", "mine:1"]
    assert first.has_next_page
    last = first.records[-1]
    assert isinstance(last, AuditRecord)
    assert last.id is not None
    rest = await audit.list_records(
        session_factory=session_factory,
        scope=scope,
        filter=audit.AuditFilter(),
        first=2,
        before_id=last.id,
    )
    assert [r.target for r in rest.records] == ["mine:0"]
    assert not rest.has_next_page

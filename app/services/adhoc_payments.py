"""Ad-hoc payment without an account (EU AFIR): a guest pays at a charger by card, it starts.

`create_ad_hoc_payment` makes a manual-capture PaymentIntent (no customer) for the guest's
browser to confirm, and a receipt token (only its SHA-256 is stored). Once Stripe says the
intent is authorised (`requires_capture`, read from Stripe by `start_if_authorised`, whether
the webhook or the guest's `confirmAdHocPayment` asked), a one-time id token bound to the
intent is made and the charger is remote-started with it. The session then settles like any
held session (capture the CDR total, release the rest); the hold is the guest's cap. A guest
payment not started before it expires is cancelled by `expire_ad_hoc` (the reconciler).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse, IdToken, RemoteCommand
from app.db.models.payment import AdHocPayment, AdHocStatus, LedgerKind, Payment, PaymentStatus
from app.domain.enums import IdTokenType
from app.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from app.events import EventBus
from app.services import command_outcomes, commands
from app.services.command_runner import CommandRunner
from app.services.payments_holds import check_hold_amount, hold_amount
from app.services.payments_ledger import record
from app.services.payments_results import IntentState, Released
from app.services.ports import PaymentGateway, StationCommander
from app.services.pricing import DEFAULT_CURRENCY, connector_tariff

MAX_EMAIL = 255
TOKEN_GRACE = timedelta(minutes=1)  # the start window, plus a charger's slow answer
_INSERT_ATTEMPTS = 5  # remote_start_id is max + 1: a concurrent start may take it first


def token_hash(receipt_token: str) -> str:
    return hashlib.sha256(receipt_token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AdHocCreated:
    ad_hoc: AdHocPayment
    client_secret: str
    receipt_token: str  # shown once, to the guest; only its hash is stored


@dataclass(frozen=True, slots=True)
class AdHocView:
    ad_hoc: AdHocPayment
    payment: Payment
    command: RemoteCommand | None
    session: ChargingSession | None


async def create_ad_hoc_payment(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    evse_id: int,
    amount_minor: int | None,
    email: str | None,
    default_minor: int,
    ttl: timedelta,
    now: datetime | None = None,
) -> AdHocCreated:
    """A guest PaymentIntent for a start on `evse_id` (NotFound; EvseUnavailable; InvalidInput)."""
    at = now or datetime.now(UTC)
    if email is not None and (len(email) > MAX_EMAIL or "@" not in email):
        raise InvalidInput(f"email {email[:80]!r} is not an e-mail address")
    if amount_minor is not None:
        check_hold_amount(amount_minor, name="amountMinor")
    async with session_factory() as db:
        evse = await db.get(Evse, evse_id)
        if evse is None:
            raise NotFound("Evse", evse_id)
        await commands.check_evse_free(db, evse, at)
        tariff = await connector_tariff(db, evse_id=evse_id)
        amount = amount_minor or await hold_amount(
            db, evse_id=evse_id, tariff_id=tariff.id if tariff else None,
            driver_cap_minor=None, default_minor=default_minor,
        )  # fmt: skip
        payment = Payment(
            status=PaymentStatus.HOLD_PENDING,
            currency=tariff.currency if tariff is not None else DEFAULT_CURRENCY,
            customer_id="", payment_method_id="", hold_requested_minor=amount,
        )  # fmt: skip
        db.add(payment)
        await db.commit()
        await db.refresh(payment)
    intent = await gateway.create_guest_intent(
        amount_minor=amount, currency=payment.currency,
        idempotency_key=f"payment-{payment.id}-guest",
        metadata={"payment_id": str(payment.id), "evse_id": str(evse_id), "kind": "ad_hoc"},
        receipt_email=email,
    )  # fmt: skip
    receipt_token = secrets.token_urlsafe(32)
    async with session_factory() as db:
        row = await db.get(Payment, payment.id)
        assert row is not None
        assert row.id is not None
        row.intent_id = intent.intent_id
        ad_hoc = AdHocPayment(
            evse_id=evse_id, payment_id=row.id, intent_id=intent.intent_id,
            receipt_token_hash=token_hash(receipt_token),
            id_token_uid=secrets.token_hex(10).upper(),  # 20 characters: OCPP 1.6 idTag's limit
            email=email, status=AdHocStatus.CREATED, expires_at=at + ttl,
        )  # fmt: skip
        db.add(ad_hoc)
        await db.commit()
        await db.refresh(ad_hoc)
    return AdHocCreated(ad_hoc, intent.client_secret, receipt_token)


async def find_by_token(*, session_factory: SessionFactory, receipt_token: str) -> AdHocPayment:
    async with session_factory() as db:
        statement = select(AdHocPayment).where(
            AdHocPayment.receipt_token_hash == token_hash(receipt_token)
        )
        found = (await db.exec(statement)).first()
    if found is None:
        raise NotFound("AdHocPayment", "receipt token")
    return found


async def _authorise(
    session_factory: SessionFactory,
    ad_hoc_id: int,
    state: IntentState,
    now: datetime,
    token_valid: timedelta,
) -> RemoteCommand | None:
    """In one transaction: the payment held, a one-time token and a PENDING START.

    The token is valid only for the start (`token_valid`): a charger that cached it cannot
    start a second, unpaid session with it later."""
    for _ in range(_INSERT_ATTEMPTS):
        async with session_factory() as db:
            ad_hoc = await db.get(AdHocPayment, ad_hoc_id, with_for_update=True)
            assert ad_hoc is not None
            if ad_hoc.status != AdHocStatus.CREATED or ad_hoc.expires_at <= now:
                return None
            evse = await db.get(Evse, ad_hoc.evse_id)
            payment = await db.get(Payment, ad_hoc.payment_id)
            assert evse is not None
            assert payment is not None
            try:
                await commands.check_evse_free(db, evse, now)
            except DomainError:
                return None  # taken meanwhile: the expiry pass cancels the hold
            if payment.status == PaymentStatus.HOLD_PENDING:  # else the webhook booked it
                payment.status, payment.authorised_minor = (
                    PaymentStatus.AUTHORISED,
                    state.amount_minor,
                )
                await record(db, payment, LedgerKind.AUTHORISATION, "hold", state.amount_minor)
            last = (await db.exec(select(func.max(RemoteCommand.remote_start_id)))).one()
            command = RemoteCommand(
                id=str(uuid.uuid4()), kind=commands.CommandKind.START,
                status=commands.RemoteCommandStatus.PENDING, station_id=evse.station_id,
                evse_id=evse.id, remote_start_id=(last or 0) + 1,
                detail={"id_token": ad_hoc.id_token_uid, "ocpp_evse_id": evse.ocpp_evse_id,
                        "connector_id": None, "ad_hoc_payment_id": ad_hoc.id},
                created_at=now,
            )  # fmt: skip
            db.add(command)
            token = IdToken(
                uid=ad_hoc.id_token_uid,
                type=IdTokenType.CENTRAL,
                label=f"ad hoc payment {ad_hoc.id}",
                expires_at=now + token_valid,
            )
            db.add(token)
            payment.command_id = command.id
            ad_hoc.status, ad_hoc.command_id = AdHocStatus.AUTHORISED, command.id
            ad_hoc.updated_at = now
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                continue
            return command
    raise Conflict("could not record the guest's start: too many concurrent starts, try again")


async def start_if_authorised(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    bus: EventBus,
    commander: StationCommander,
    runner: CommandRunner,
    start_window_s: float,
    ad_hoc_id: int | None = None,
    intent_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Start the charger for a guest payment Stripe holds (re-read from Stripe: never taken
    from the caller). True when this call sent the start; False when not (yet) authorised,
    already started, expired, or not a guest payment."""
    async with session_factory() as db:
        statement = select(AdHocPayment).where(
            AdHocPayment.id == ad_hoc_id
            if ad_hoc_id is not None
            else AdHocPayment.intent_id == intent_id
        )
        ad_hoc = (await db.exec(statement)).first()
    if ad_hoc is None or ad_hoc.status != AdHocStatus.CREATED:
        return False
    assert ad_hoc.id is not None
    state = await gateway.retrieve_intent(intent_id=ad_hoc.intent_id)
    if not isinstance(state, IntentState) or state.status != "requires_capture":
        return False
    token_valid = timedelta(seconds=start_window_s) + TOKEN_GRACE
    command = await _authorise(
        session_factory, ad_hoc.id, state, now or datetime.now(UTC), token_valid
    )
    if command is None:
        return False
    runner.spawn(
        command_outcomes.run_start(
            session_factory=session_factory, bus=bus, commander=commander,
            command_id=command.id, start_window_s=start_window_s,
        ),
        name=f"ad hoc start {command.id}",
    )  # fmt: skip
    return True


async def view(*, session_factory: SessionFactory, receipt_token: str) -> AdHocView:
    """The guest payment, its start and its session, as they are now."""
    ad_hoc = await find_by_token(session_factory=session_factory, receipt_token=receipt_token)
    async with session_factory() as db:
        payment = await db.get(Payment, ad_hoc.payment_id)
        command = await db.get(RemoteCommand, ad_hoc.command_id) if ad_hoc.command_id else None
        session = None
        if command is not None and command.session_id is not None:
            session = await db.get(ChargingSession, command.session_id)
    assert payment is not None
    return AdHocView(ad_hoc, payment, command, session)


async def expire_ad_hoc(
    *, session_factory: SessionFactory, gateway: PaymentGateway, now: datetime | None = None
) -> list[AdHocPayment]:
    """A reconciler pass: cancel every guest intent never started before it expired (an
    authorised one whose start then failed is released by the settlement pass)."""
    at = now or datetime.now(UTC)
    async with session_factory() as db:
        statement = select(AdHocPayment).where(
            AdHocPayment.status == AdHocStatus.CREATED, col(AdHocPayment.expires_at) <= at
        )
        stale = (await db.exec(statement)).all()
    expired = []
    for ad_hoc in stale:
        released = await gateway.cancel(
            intent_id=ad_hoc.intent_id, idempotency_key=f"payment-{ad_hoc.payment_id}-release"
        )
        if not isinstance(released, Released):
            continue  # unknown: the next pass tries again
        async with session_factory() as db:
            row = await db.get(AdHocPayment, ad_hoc.id)
            payment = await db.get(Payment, ad_hoc.payment_id)
            assert row is not None
            assert payment is not None
            if payment.status == PaymentStatus.AUTHORISED:  # the webhook booked a hold
                await record(db, payment, LedgerKind.RELEASE, "release", payment.authorised_minor)
            payment.status, payment.updated_at = PaymentStatus.RELEASED, at
            row.status, row.updated_at = AdHocStatus.EXPIRED, at
            await db.commit()
            await db.refresh(row)
            expired.append(row)
    return expired

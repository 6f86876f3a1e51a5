"""The payment reconciler: the lifespan's one owner of settling captures and lost holds."""

import asyncio
import logging

from app.db.engine import SessionFactory
from app.services.adhoc_payments import expire_ad_hoc
from app.services.payments_settlement import settle_owed
from app.services.periodic import PeriodicTask
from app.services.ports import PaymentGateway
from app.services.refunds import retry_pending_refunds

log = logging.getLogger(__name__)


class PaymentReconciler(PeriodicTask):
    """`async with` starts a task that settles what is owed every `interval_s`; exit stops it.

    Sessions that end mark their payment CAPTURE_PENDING in the same transaction; this task
    takes the money afterwards, so a crash in between is settled after a restart, with the
    same idempotency keys. `wake()` runs a pass now (tests, and a webhook that changed state).
    """

    task_name = "payment reconciler pass"

    def __init__(
        self, *, session_factory: SessionFactory, gateway: PaymentGateway, interval_s: float
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._session_factory = session_factory
        self._gateway = gateway
        self._passed = asyncio.Event()

    async def next_pass(self) -> None:
        """Run a pass now and return once a pass that began after this call has finished."""
        passed = self._passed
        self.wake()
        await passed.wait()
        passed = self._passed
        self.wake()
        await passed.wait()

    async def run_pass(self) -> None:
        await self.run_once()

    def after_pass(self) -> None:
        self._passed.set()
        self._passed = asyncio.Event()

    async def run_once(self) -> None:
        settled = await settle_owed(session_factory=self._session_factory, gateway=self._gateway)
        for payment in settled:
            log.info("payment %s settled: %s", payment.id, payment.status)
        refunds = await retry_pending_refunds(
            session_factory=self._session_factory, gateway=self._gateway
        )
        for refund in refunds:
            log.info("refund %s retried: %s", refund.id, refund.status)
        for ad_hoc in await expire_ad_hoc(
            session_factory=self._session_factory, gateway=self._gateway
        ):
            log.info("guest payment %s expired unstarted: hold cancelled", ad_hoc.id)

"""The schema: query, mutation and subscription roots composed from their areas; extensions."""

from collections.abc import Iterator

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.graphql.execution import ChargenetExecutor
from app.graphql.extensions import (
    DOCUMENT_CACHES,
    MaskUnexpectedErrors,
    QueryLimits,
    RateLimit,
    TrustedDocuments,
    should_mask,
)
from app.graphql.loaders import Loaders
from app.graphql.mutations.acknowledge_alert import AcknowledgeAlertMutation
from app.graphql.mutations.add_payment_method import AddPaymentMethodMutation
from app.graphql.mutations.add_rfid_card import AddRfidCardMutation
from app.graphql.mutations.cancel_maintenance import CancelMaintenanceMutation
from app.graphql.mutations.cancel_reservation import CancelReservationMutation
from app.graphql.mutations.cancel_subscription import CancelSubscriptionMutation
from app.graphql.mutations.change_availability import ChangeAvailabilityMutation
from app.graphql.mutations.change_configuration import ChangeConfigurationMutation
from app.graphql.mutations.clear_cache import ClearCacheMutation
from app.graphql.mutations.confirm_ad_hoc_payment import ConfirmAdHocPaymentMutation
from app.graphql.mutations.create_ad_hoc_payment import CreateAdHocPaymentMutation
from app.graphql.mutations.create_api_key import CreateApiKeyMutation
from app.graphql.mutations.create_capacity_node import CreateCapacityNodeMutation
from app.graphql.mutations.create_membership_plan import CreateMembershipPlanMutation
from app.graphql.mutations.delete_capacity_node import DeleteCapacityNodeMutation
from app.graphql.mutations.flag_excluded_outage import FlagExcludedOutageMutation
from app.graphql.mutations.get_configuration import GetConfigurationMutation
from app.graphql.mutations.log_in import LogInMutation
from app.graphql.mutations.log_out import LogOutMutation
from app.graphql.mutations.operator_log_in import OperatorLogInMutation
from app.graphql.mutations.refresh_tokens import RefreshTokensMutation
from app.graphql.mutations.refund_session import RefundSessionMutation
from app.graphql.mutations.remove_excluded_outage import RemoveExcludedOutageMutation
from app.graphql.mutations.remove_payment_method import RemovePaymentMethodMutation
from app.graphql.mutations.remove_rfid_card import RemoveRfidCardMutation
from app.graphql.mutations.reserve_evse import ReserveEvseMutation
from app.graphql.mutations.reset_station import ResetStationMutation
from app.graphql.mutations.resolve_alert import ResolveAlertMutation
from app.graphql.mutations.revoke_api_key import RevokeApiKeyMutation
from app.graphql.mutations.rotate_station_password import RotateStationPasswordMutation
from app.graphql.mutations.schedule_maintenance import ScheduleMaintenanceMutation
from app.graphql.mutations.set_capacity_limit import SetCapacityLimitMutation
from app.graphql.mutations.set_default_payment_method import SetDefaultPaymentMethodMutation
from app.graphql.mutations.set_favorite import SetFavoriteMutation
from app.graphql.mutations.set_hold_amount import SetHoldAmountMutation
from app.graphql.mutations.sign_up import SignUpMutation
from app.graphql.mutations.start_session import StartSessionMutation
from app.graphql.mutations.stop_session import StopSessionMutation
from app.graphql.mutations.subscribe_to_plan import SubscribeToPlanMutation
from app.graphql.mutations.trigger_message import TriggerMessageMutation
from app.graphql.mutations.unlock_connector import UnlockConnectorMutation
from app.graphql.mutations.update_capacity_node import UpdateCapacityNodeMutation
from app.graphql.mutations.update_firmware import UpdateFirmwareMutation
from app.graphql.mutations.upload_diagnostics import UploadDiagnosticsMutation
from app.graphql.queries.ad_hoc import AdHocQueries
from app.graphql.queries.alerts import AlertQueries
from app.graphql.queries.audit import AuditQueries
from app.graphql.queries.capacity import CapacityQueries
from app.graphql.queries.diagnostics import DiagnosticsQueries
from app.graphql.queries.history import HistoryQueries
from app.graphql.queries.locations import LocationQueries
from app.graphql.queries.me import MeQueries
from app.graphql.queries.memberships import MembershipQueries
from app.graphql.queries.node import NodeQueries
from app.graphql.queries.payments import PaymentQueries
from app.graphql.queries.pricing import PricingQueries
from app.graphql.queries.station_ops import StationOpsQueries
from app.graphql.queries.uptime import UptimeQueries
from app.graphql.subscriptions.alerts import AlertSubscriptions
from app.graphql.subscriptions.allocation import AllocationSubscriptions
from app.graphql.subscriptions.command_result import CommandResultSubscriptions
from app.graphql.subscriptions.evse_status import EvseStatusSubscriptions
from app.graphql.subscriptions.session_updated import SessionUpdatedSubscriptions
from app.graphql.subscriptions.station_updated import StationUpdatedSubscriptions

__all__ = ["ActiveSubscriptions", "schema", "should_mask"]


class FreshLoaders(SchemaExtension):
    """New DataLoaders per operation: a WebSocket connection keeps one context for all of them."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        context.loaders = Loaders(context.session_factory)
        yield


class ActiveSubscriptions(SchemaExtension):
    """Counts subscriptions streaming in this process (`/metrics`). The operation hook spans a
    subscription's whole life; its type is known once the document is validated."""

    active = 0

    def on_operation(self) -> Iterator[None]:
        self.counted = False
        try:
            yield
        finally:
            if self.counted:
                ActiveSubscriptions.active -= 1

    def on_validate(self) -> Iterator[None]:
        yield
        try:
            streaming = self.execution_context.operation_type == OperationType.SUBSCRIPTION
        except Exception:  # no operation to run: nothing to count
            streaming = False
        if streaming and not self.counted:
            self.counted = True
            ActiveSubscriptions.active += 1


@strawberry.type
class Query(
    LocationQueries,
    NodeQueries,
    MeQueries,
    PricingQueries,
    HistoryQueries,
    AlertQueries,
    CapacityQueries,
    UptimeQueries,
    DiagnosticsQueries,
    AuditQueries,
    StationOpsQueries,
    AdHocQueries,
    MembershipQueries,
    PaymentQueries,
):
    pass


@strawberry.type
class Mutation(
    SignUpMutation,
    LogInMutation,
    RefreshTokensMutation,
    LogOutMutation,
    OperatorLogInMutation,
    CreateApiKeyMutation,
    RevokeApiKeyMutation,
    AddRfidCardMutation,
    RemoveRfidCardMutation,
    SetFavoriteMutation,
    ReserveEvseMutation,
    CancelReservationMutation,
    StartSessionMutation,
    StopSessionMutation,
    AddPaymentMethodMutation,
    SetDefaultPaymentMethodMutation,
    RemovePaymentMethodMutation,
    AcknowledgeAlertMutation,
    ResolveAlertMutation,
    SetCapacityLimitMutation,
    CreateCapacityNodeMutation,
    UpdateCapacityNodeMutation,
    DeleteCapacityNodeMutation,
    SetHoldAmountMutation,
    RefundSessionMutation,
    CreateAdHocPaymentMutation,
    ConfirmAdHocPaymentMutation,
    CreateMembershipPlanMutation,
    SubscribeToPlanMutation,
    CancelSubscriptionMutation,
    RotateStationPasswordMutation,
    ChangeAvailabilityMutation,
    ChangeConfigurationMutation,
    ClearCacheMutation,
    GetConfigurationMutation,
    ResetStationMutation,
    TriggerMessageMutation,
    UnlockConnectorMutation,
    UpdateFirmwareMutation,
    UploadDiagnosticsMutation,
    ScheduleMaintenanceMutation,
    CancelMaintenanceMutation,
    FlagExcludedOutageMutation,
    RemoveExcludedOutageMutation,
):
    pass


@strawberry.type
class Subscription(
    EvseStatusSubscriptions,
    CommandResultSubscriptions,
    SessionUpdatedSubscriptions,
    AlertSubscriptions,
    AllocationSubscriptions,
    StationUpdatedSubscriptions,
):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    execution_context_class=ChargenetExecutor,
    # Order matters: refuse over-budget callers before any work, swap a trusted document id
    # for its text before the limits count its tokens; masking wraps everything.
    extensions=[
        RateLimit,
        TrustedDocuments,
        QueryLimits,
        *DOCUMENT_CACHES,
        FreshLoaders,
        ActiveSubscriptions,
        MaskUnexpectedErrors,
    ],
)

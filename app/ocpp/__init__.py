"""The OCPP adapter: `/ocpp/{station_id}` (OCPP-J 1.6 and 2.0.1); the only importer of `ocpp`."""

import ocpp.messages

# The package validates payloads on the default thread pool unless told otherwise; a thread hop
# per message costs more CPU than the validation itself (see bench in the OCPP e2e tests' notes).
ocpp.messages.ASYNC_VALIDATION = False

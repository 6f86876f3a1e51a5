"""The Stripe adapter: the payment gateway, the webhook endpoint and the reconciler."""

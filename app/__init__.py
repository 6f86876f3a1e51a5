"""chargenet: an open-source backend for running an EV charging network."""

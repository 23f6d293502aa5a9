//! fieldbook-server: receives, checks and serves Fieldbook records. STUB.

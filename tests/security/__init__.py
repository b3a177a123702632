"""Security review tests: cross-team access, role denials, leaks, revoked credentials."""

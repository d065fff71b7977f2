"""The SQL of signing out: sign-in sessions ended before their cookie expires.

A session is named by the sha256 of its id (the id itself is only ever in the cookie), and kept
until its cookie would have expired anyway; after that the signature check refuses the cookie
by itself, so the row is pruned.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from api.storage.models import RevokedSession


def revoke_session(session, session_hash: str, expires_at: datetime, now: datetime) -> None:
    """Mark the session signed out until `expires_at` (in the caller's transaction), and
    forget sessions whose cookies have expired by `now`."""
    session.execute(delete(RevokedSession).where(RevokedSession.expires_at <= now))
    if session.get(RevokedSession, session_hash) is None:
        session.add(RevokedSession(session_hash=session_hash, expires_at=expires_at))


def session_revoked(session, session_hash: str) -> bool:
    """Whether this session signed out (its cookie must be refused though still signed)."""
    return session.scalar(select(RevokedSession.session_hash)
                          .where(RevokedSession.session_hash == session_hash)) is not None

"""Async query functions over the tables; each takes the caller's AsyncSession.

Split by concern: `sources` (fetch state and health), `stories` (items, stories, search),
`chats` (chats, settings, follows) and `outbox` (deliveries: queue, claim, mark). Dialect
differences (ON CONFLICT, SKIP LOCKED, full-text search) stay inside this package.
"""

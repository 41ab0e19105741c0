"""The State Hub's agent-inbox tools, with its argument names and defaults (TOOLS.md, CUST-WP-0015):
get_messages(to_agent?, from_agent?, unread_only=False, limit=20), send_message(from_agent, to_agent,
subject, body, thread_id?), mark_message_read(message_id), reply_to_message(message_id, from_agent, body).
"""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp_types import CallToolResult
from pydantic import Field

from devhub.adapters.mcp.arguments import IdempotencyKey
from devhub.service.port import MESSAGES_LIMIT_DEFAULT, MESSAGES_LIMIT_MAX, HubPort, MessageFilters

MessageId = Annotated[str, Field(description="The message's id (as GET /messages/ lists it)")]

MESSAGE_READ_TOOLS = ("get_messages", "get_message_thread")
MESSAGE_WRITE_TOOLS = ("send_message", "mark_message_read", "reply_to_message", "archive_message")


class MessageTools:
    """Mixed into DevHubTools: `backend` is its HubPort and `_run` its error-mapping runner."""

    backend: HubPort

    _run: Callable[[Awaitable[Any]], Awaitable[CallToolResult]]  # DevHubTools' error-mapping runner

    async def get_messages(
        self,
        to_agent: Annotated[str | None, Field(description="Only messages to this agent (your repo slug)")] = None,
        from_agent: Annotated[str | None, Field(description="Only messages from this agent")] = None,
        unread_only: bool = False,
        limit: Annotated[int, Field(ge=1, le=MESSAGES_LIMIT_MAX)] = MESSAGES_LIMIT_DEFAULT,
    ) -> CallToolResult:
        """Messages between agents, newest first, archived ones left out (GET /messages/)."""
        filters = MessageFilters(to_agent=to_agent, from_agent=from_agent, unread_only=unread_only, limit=limit)
        return await self._run(self.backend.messages(filters))

    async def get_message_thread(self, message_id: MessageId) -> CallToolResult:
        """A message's thread: the root, then every reply in order (GET /messages/{id}/thread)."""
        return await self._run(self.backend.message_thread(message_id))

    async def send_message(
        self,
        from_agent: Annotated[str, Field(description="Sender (your repo slug, or 'hub')")],
        to_agent: Annotated[str, Field(description="Recipient agent, or 'broadcast'")],
        subject: Annotated[str, Field(description="Short subject line (at most 500 characters)")],
        body: Annotated[str, Field(description="The message (markdown)")],
        thread_id: Annotated[str | None, Field(description="Id of the thread's root message")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Send a message to another agent (POST /messages/); an unknown thread_id is refused (404)."""
        payload = {"from_agent": from_agent, "to_agent": to_agent, "subject": subject, "body": body}
        if thread_id is not None:
            payload["thread_id"] = thread_id
        return await self._run(self.backend.send_message(payload, idempotency_key))

    async def mark_message_read(self, message_id: MessageId, idempotency_key: IdempotencyKey = None) -> CallToolResult:
        """Mark a message read (PATCH /messages/{id}/read)."""
        return await self._run(self.backend.mark_message_read(message_id, {}, idempotency_key))

    async def reply_to_message(
        self,
        message_id: MessageId,
        from_agent: Annotated[str, Field(description="Who replies (your repo slug)")],
        body: Annotated[str, Field(description="The reply (markdown)")],
        subject: Annotated[str | None, Field(description="Default: 'Re: ' and the original subject")] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Reply in the thread, to the original sender; marks the original read (POST /messages/{id}/reply)."""
        payload = {"from_agent": from_agent, "body": body}
        if subject is not None:
            payload["subject"] = subject
        return await self._run(self.backend.reply_to_message(message_id, payload, idempotency_key))

    async def archive_message(self, message_id: MessageId, idempotency_key: IdempotencyKey = None) -> CallToolResult:
        """Archive a message: out of get_messages from now on (PATCH /messages/{id}/archive)."""
        return await self._run(self.backend.archive_message(message_id, {}, idempotency_key))

"""Slash commands for group owners, admins, officers and members (see ``service``)."""

from rules.commands.service import (
    CommandRequest,
    CommandService,
    Edge,
    Quoted,
)

__all__ = ["CommandRequest", "CommandService", "Edge", "Quoted"]

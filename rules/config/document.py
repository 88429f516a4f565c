"""The whole config document (:class:`Config`) and the per-group policies it hands out.

A :class:`Config` is the process settings, the global policy (it *is* a
:class:`Policy`), the file's ``[groups."<id>"]`` override tables and the group
registrations (``[registry."<id>"]``). It also holds the one piece of mutable
state in the config: the overrides set by command at runtime (``/config set``,
layered over the file's), and a cache of every group's merged policy, which
:meth:`Config.policy_for` reads on each message.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from rules.config.console_sections import ConsoleSettings, exposure_problem
from rules.config.errors import ConfigError
from rules.config.fields import QualifiedId, Section
from rules.config.overrides import merge, merge_policy, override_problems
from rules.config.policy import Policy
from rules.config.process import (
    CommandSettings,
    DatabaseSettings,
    OneBotSettings,
    RedisSettings,
    ServerSettings,
    WechatSettings,
)


class RegistryEntrySettings(Section):
    """One group's registration (备案) declared in the config: ``[registry."qq:123"]``."""

    name: str = Field("", description="Group name as registered.")
    owner: str = Field("", description="Group owner (群主).")
    admins: list[str] = Field(default_factory=list, description="Group admins (管理员).")
    responsible: str = Field("", description="Responsible person (负责人).")
    purpose: str = Field("", description="What the group is for (用途).")
    registered_on: date | None = Field(None, description="Registration date, YYYY-MM-DD.")


class Config(Policy):
    server: ServerSettings = Field(default_factory=ServerSettings)
    onebot: OneBotSettings = Field(default_factory=OneBotSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    wechat: WechatSettings = Field(default_factory=WechatSettings)
    commands: CommandSettings = Field(default_factory=CommandSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    groups: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-group policy overrides."
    )
    registry: dict[QualifiedId, RegistryEntrySettings] = Field(
        default_factory=dict, description="Group registrations (备案) declared in the config."
    )
    _policies: dict[str, Policy] = PrivateAttr(default_factory=dict)
    # Overrides set at runtime by command (/config set), layered over ``groups``.
    _runtime: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _global: Policy | None = PrivateAttr(default=None)  # the global policy, built once

    @model_validator(mode="after")
    def _token_required_off_loopback(self) -> Config:
        if not self.onebot.access_token.strip() and not self.server.loopback_only:
            raise ValueError(
                "onebot.access_token: must be set when server.host "
                f"({self.server.host}) is not a loopback address"
            )
        return self

    @model_validator(mode="after")
    def _console_exposure(self) -> Config:
        problem = exposure_problem(self.console, self.server.host)
        if problem is not None:
            raise ValueError(problem)
        return self

    def policy(self) -> Policy:
        """The global policy (this config without its global-only sections).

        Built once: the config is frozen and command overrides are per group, so the
        global policy never changes (callers on the violation path ask for it often).
        """
        private = self.__pydantic_private__
        assert private is not None
        policy: Policy | None = private["_global"]
        if policy is None:
            policy = private["_global"] = Policy.model_validate(
                self.model_dump(include=set(Policy.model_fields))
            )
        return policy

    def policy_for(self, group_id: str) -> Policy:
        """The policy for one group: global policy, the file's and then the commands' overrides."""
        # Called for every message: read the private storage directly, because
        # ``self._policies`` goes through pydantic's slow ``__getattr__``.
        private = self.__pydantic_private__
        assert private is not None
        policies: dict[str, Policy] = private["_policies"]
        policy = policies.get(group_id)
        if policy is None:
            override = merge(self.groups.get(group_id, {}), self._runtime.get(group_id, {}))
            policy = policies[group_id] = merge_policy(self.policy(), override)
        return policy

    def runtime_overrides(self, group_id: str) -> dict[str, Any]:
        """The overrides set by command for one group (a copy)."""
        return copy.deepcopy(self._runtime.get(group_id, {}))

    def set_runtime_overrides(self, group_id: str, overrides: Mapping[str, Any]) -> None:
        """Replace a group's command-set overrides; raise ConfigError naming bad keys.

        Validated exactly like a ``[groups."<id>"]`` table of the config file.
        """
        combined = merge(self.groups.get(group_id, {}), overrides)
        problems = self._problems(group_id, combined)
        if problems:
            raise ConfigError(f"groups.{group_id}", problems)
        self._runtime[group_id] = copy.deepcopy(dict(overrides))
        self._policies.pop(group_id, None)

    def _problems(self, group_id: str, override: Mapping[str, Any]) -> list[str]:
        """What is wrong with ``override`` as the whole override table of ``group_id``."""
        return override_problems(self.policy(), group_id, override, type(self).model_fields)

    def group_problems(self) -> list[str]:
        """What is wrong with the file's ``[groups."<id>"]`` tables (empty when all are valid)."""
        base = self.policy()
        problems: list[str] = []
        for group_id, override in self.groups.items():
            problems.extend(override_problems(base, group_id, override, type(self).model_fields))
        return problems

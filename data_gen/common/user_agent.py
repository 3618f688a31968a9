"""The User-Agent every network source of data_gen must send (Wikimedia's User-Agent policy).

WDQS and Commons ban clients with generic agents; the policy asks for "name/version (contact)"
with a URL or an e-mail address. The SPARQL client and the Commons client refuse to start
without one, before any request.
"""

from __future__ import annotations

import re

from data_gen.common.errors import SettingsError

# "name/version (contact)" where the contact is a URL or an e-mail address (Wikimedia UA policy).
USER_AGENT_RE = re.compile(r"^\S+/\S+ \(.*(https?://\S+|[\w.+-]+@[\w-]+\.[\w.-]+).*\)")


def check_user_agent(agent: str | None) -> str:
    """Refuse to talk to Wikimedia-style services without a descriptive User-Agent."""
    if not agent or not USER_AGENT_RE.match(agent.strip()):
        raise SettingsError(
            "a descriptive user_agent is required for network sources, e.g. "
            "user_agent='CulturalPangea-datagen/0.1 (https://example.org/you; you@example.org)' "
            f"(Wikimedia User-Agent policy); got {agent!r}"
        )
    return agent.strip()

"""Build the realtime services once at start-up and put them where the routes find them."""

from __future__ import annotations

from typing import Any

from api.auth import KeyAuthenticator
from bridge.base import Bridge
from core.settings import Settings
from realtime.access import AccessChecker
from realtime.control import RunControl
from realtime.feed import RunFeed
from realtime.listeners import WakeChannel
from store.db import Database


def install_realtime(state: Any, settings: Settings, db: Database, bridge: Bridge, channel: WakeChannel,
                     keys: KeyAuthenticator) -> None:
    access = AccessChecker(secret=settings.resolved_token_secret(), env_id=settings.public_token_env_id, keys=keys)
    if bridge.name == "inline":
        # A cancel request published by another instance stops the run if it executes here.
        channel.hub.on_cancel(bridge.cancel)
    state.update(
        wake_channel=channel,
        realtime_access=access,
        realtime_feed=RunFeed(db, channel.hub, access),
        realtime_control=RunControl(db, bridge, access, channel.wake),
    )

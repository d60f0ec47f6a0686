"""The fast tier's guard in every Python process a fast-tier test starts (see edgekit_tier_guard)."""

import edgekit_tier_guard

if edgekit_tier_guard.active():
    edgekit_tier_guard.install()

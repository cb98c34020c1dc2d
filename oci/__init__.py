"""Images: references, the registry client, the content store, layers and snapshots.

Knows nothing of pods or containers.
"""

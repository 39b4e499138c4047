"""What replicas of one gateway share at run time, through Redis (`redis` in the settings).

    link.py          who is alive (heartbeats) and messages between replicas (pub/sub)
    relay.py         a request for a session another replica holds, carried there and back
    shared_state.py  changes made through one replica (registry, keys, users) served by all

The database (PostgreSQL) holds everything that must survive; Redis carries what replicas
must tell each other now, and the rate-limit counters. Without Redis none of this is loaded
and a single process behaves as it always has.
"""

"""Run by ``test_postgresql.py`` as one of several processes starting at once: opens the store
the way ``mailwatch run`` does (creating and migrating the schema), then exits.

It prints ``ready`` once imported and waits for a line on stdin before opening, so the test
can release every process at the same moment; then it prints ``opened`` or the error."""

from __future__ import annotations

import asyncio
import sys

from mailwatch.store.store import Store


async def main(url: str) -> None:
    store = await Store.open(url)
    await store.close()


if __name__ == "__main__":
    print("ready", flush=True)
    sys.stdin.readline()
    asyncio.run(main(sys.argv[1]))
    print("opened", flush=True)

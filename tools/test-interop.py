#!/usr/bin/env python3
"""Interop tests between OpenThread simulation nodes (build/ot/ot-cli-ftd) and ours.

    python3 tools/test-interop.py OT_CLI [OUR_NODE] [test ...]

Each test runs on its own PORT_OFFSET (its own multicast port), so tests do not hear each
other; logs go to build/interop/<test>.log. Exit status 1 when any test fails.
"""

import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otcli import OtNode, OtError  # noqa: E402

LOG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'interop')


def test_ot_pair(ot_cli, our_node, port_offset, log):
    """Two OpenThread nodes: the first forms a partition, the second attaches to it."""
    with OtNode(ot_cli, 1, port_offset, log_path=log) as a, \
            OtNode(ot_cli, 2, port_offset, log_path=log) as b:
        a.form()
        a.wait_state('leader', 15)
        dataset = a.value('dataset active -x')
        b.cmd(f'dataset set active {dataset}')
        b.cmd('ifconfig up')
        b.cmd('thread start')
        b.wait_state(('child', 'router'), 15)
        ext_b = b.value('extaddr')
        children = a.cmd('child table')
        routers = a.cmd('router table')
        if not any(ext_b in line for line in children + routers):
            raise OtError(f'leader does not list {ext_b}: child table {children!r}, '
                          f'router table {routers!r}')
        if a.value('partitionid') != b.value('partitionid'):
            raise OtError('two partitions')


TESTS = [test_ot_pair]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    ot_cli = sys.argv[1]
    our_node = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith('test_') else None
    wanted = [a for a in sys.argv[2:] if a.startswith('test_')]
    os.makedirs(LOG_DIR, exist_ok=True)
    failed = 0
    # PORT_OFFSET 20+ keeps clear of a developer's hand-started nodes (offset 0).
    for i, test in enumerate(TESTS):
        if wanted and test.__name__ not in wanted:
            continue
        log = os.path.join(LOG_DIR, test.__name__ + '.log')
        if os.path.exists(log):
            os.remove(log)
        start = time.monotonic()
        try:
            test(ot_cli, our_node, 20 + i, log)
            print(f'pass {test.__name__} ({time.monotonic() - start:.1f} s)')
        except Exception:
            failed += 1
            print(f'FAIL {test.__name__} ({time.monotonic() - start:.1f} s), log {log}')
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

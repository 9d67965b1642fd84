"""Drives OpenThread's simulated CLI node (build/ot/ot-cli-ftd) over its stdin/stdout.

    node = OtNode(binary, node_id=1, port_offset=7)   # own temporary working directory
    node.cmd('dataset init new')                        # -> output lines; raises OtError
    node.wait_until(lambda: node.state() == 'leader', timeout=10)
    node.close()

Each node runs in a temporary working directory of its own (the simulation platform keeps its
settings in ./tmp/<offset>_<node id>.flash there) and on the medium of PORT_OFFSET: UDP
multicast 224.0.0.116, port 9000 + 34 * PORT_OFFSET, the node sending from that port + node id.

`MicroPythonNode` runs the unix firmware on that medium (`PYMESH_OT_MEDIUM`) and evaluates
Python lines in it: `mp.py('mesh.state()')`; its `cmd` goes through Pycom's `mesh.cli()`.
"""

import ast
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time


class OtError(Exception):
    """A command answered `Error N: ...`, or no answer came in time."""


class OtNode:
    """An `ot-cli-ftd` process (or, through `PymeshNode`, one of ours that speaks its CLI)."""

    tag = 'ot'

    def __init__(self, binary, node_id, port_offset, workdir=None, log_path=None, args=None,
                 env=None):
        self.node_id = node_id
        self.port_offset = port_offset
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix=f'{self.tag}{node_id}-')
        env = dict(os.environ, PORT_OFFSET=str(port_offset), **(env or {}))
        self._log = open(log_path, 'a') if log_path else None
        argv = [os.path.abspath(binary)] + (args if args is not None else [str(node_id)])
        self.proc = subprocess.Popen(
            argv,
            cwd=self.workdir, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            # Diagnostics go to the log (or ours), never between a command and its answer.
            stderr=self._log if self._log else None,
            bufsize=0)
        self._lines = queue.Queue()
        # Lines printed outside any command's answer (a received UDP datagram, ...).
        self.unsolicited = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b''
        while True:
            chunk = self.proc.stdout.read1(4096) if hasattr(self.proc.stdout, 'read1') \
                else os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            while b'\n' in buf:
                raw, buf = buf.split(b'\n', 1)
                line = raw.decode('utf-8', 'replace').rstrip('\r')
                # The prompt precedes the echo of each command (and stands alone after output).
                while line.startswith('> '):
                    line = line[2:]
                if self._log:
                    self._log.write(f'[{self.tag}{self.node_id}] {line}\n')
                    self._log.flush()
                self._lines.put(line)
        self._lines.put(None)

    def cmd(self, command, timeout=5.0):
        """Sends one CLI command; returns its output lines (without echo and `Done`)."""
        # Lines printed before this command (asynchronous output) are not its answer.
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                raise OtError(f'node {self.node_id} exited')
            if line:
                self.unsolicited.append(line)
        if self._log:
            self._log.write(f'[{self.tag}{self.node_id}] >>> {command}\n')
        self.proc.stdin.write((command + '\n').encode())
        self.proc.stdin.flush()
        out = []
        echoed = False
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OtError(f'node {self.node_id}: no answer to {command!r} in {timeout} s '
                              f'(got {out!r})')
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise OtError(f'node {self.node_id} exited during {command!r}')
            if not echoed and line == command:
                echoed = True
                continue
            if line == 'Done':
                return out
            if line.startswith('Error '):
                raise OtError(f'node {self.node_id}: {command!r}: {line}')
            if line:
                out.append(line)

    def wait_line(self, predicate, timeout):
        """Waits for an unsolicited output line for which `predicate` is true; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for i, line in enumerate(self.unsolicited):
                if predicate(line):
                    del self.unsolicited[i]
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise OtError(f'node {self.node_id}: no such line in {timeout} s '
                              f'(unsolicited: {self.unsolicited!r})')
            try:
                line = self._lines.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if line is None:
                raise OtError(f'node {self.node_id} exited')
            if line:
                self.unsolicited.append(line)

    def value(self, command, timeout=5.0):
        """A command whose answer is one line (`state`, `rloc16`, `extaddr`...)."""
        out = self.cmd(command, timeout)
        if len(out) != 1:
            raise OtError(f'node {self.node_id}: {command!r} answered {out!r}')
        return out[0]

    def state(self):
        return self.value('state')

    def wait_until(self, predicate, timeout, interval=0.25, what='condition'):
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise OtError(f'node {self.node_id}: {what} not reached in {timeout} s')
            time.sleep(interval)

    def wait_state(self, states, timeout):
        if isinstance(states, str):
            states = (states,)
        last = []

        def check():
            last[:] = [self.state()]
            return last[0] in states
        try:
            self.wait_until(check, timeout, what=f'state in {states}')
        except OtError as e:
            raise OtError(f'{e} (last state {last[0] if last else None!r})') from None
        return last[0]

    def form(self, network_key=None, panid=None, channel=None, extpanid=None,
             mesh_local_prefix=None, network_name=None):
        """Commits an active dataset (new random one, with the given fields) and starts Thread."""
        self.cmd('dataset init new')
        if network_key is not None:
            self.cmd(f'dataset networkkey {network_key}')
        if panid is not None:
            self.cmd(f'dataset panid 0x{panid:04x}')
        if channel is not None:
            self.cmd(f'dataset channel {channel}')
        if extpanid is not None:
            self.cmd(f'dataset extpanid {extpanid}')
        if mesh_local_prefix is not None:
            self.cmd(f'dataset meshlocalprefix {mesh_local_prefix}')
        if network_name is not None:
            self.cmd(f'dataset networkname {network_name}')
        self.cmd('dataset commit active')
        self.cmd('ifconfig up')
        self.cmd('thread start')

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PymeshNode(OtNode):
    """Our node on OpenThread's medium (`pymesh-ot-node`), driven with the same CLI commands."""

    tag = 'pm'

    def __init__(self, binary, node_id, port_offset, log_path=None, extra_args=()):
        super().__init__(binary, node_id, port_offset, log_path=log_path,
                         args=['--node-id', str(node_id), '--port-offset', str(port_offset),
                               *extra_args])


# Run by the unix firmware (`micropython -c`): evaluates each line read from stdin (an
# expression, else a statement) in one namespace and prints `@<n>=> <repr of the value>` or
# `@<n>!! <exception>`, n counting the lines. Nothing else prints on stdout.
MICROPYTHON_DRIVER = """
import sys
def _serve():
    g = {'__name__': '__main__'}
    n = 0
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        n += 1
        src = line.rstrip('\\n')
        try:
            try:
                r = eval(src, g)
            except SyntaxError:
                exec(src, g)
                r = None
            out = '=> ' + repr(r)
        except Exception as e:
            out = '!! %s: %s' % (type(e).__name__, e)
        print('@%d%s' % (n, out))
_serve()
"""


class MicroPythonNode(OtNode):
    """The unix firmware (build/unix/micropython) on OpenThread's medium as node `node_id`
    (`PYMESH_OT_MEDIUM`), driven line by line: `py(source)` evaluates one line of Python in it.
    `cmd` (and so `value`, `state`, `wait_state`) runs an OpenThread CLI command through Pycom's
    `mesh.cli()`, once the Python code has made `mesh = lora.Mesh()`."""

    tag = 'mp'

    def __init__(self, firmware, node_id, port_offset, log_path=None, channel=None, pcap=None):
        env = {'PYMESH_OT_MEDIUM': str(node_id)}
        if channel is not None:
            env['PYMESH_OT_CHANNEL'] = str(channel)
        if pcap is not None:
            env['PYMESH_PCAP'] = pcap
        self._seq = 0
        super().__init__(firmware, node_id, port_offset, log_path=log_path,
                         args=['-c', MICROPYTHON_DRIVER], env=env)

    def py(self, source, timeout=5.0):
        """Evaluates one line of Python in the firmware; returns the repr of its value (None
        for a statement). An exception in it raises OtError."""
        if '\n' in source:
            raise ValueError('one line at a time')
        if self._log:
            self._log.write(f'[{self.tag}{self.node_id}] >>> {source}\n')
            self._log.flush()
        self._seq += 1
        tag = f'@{self._seq}'
        self.proc.stdin.write((source + '\n').encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OtError(f'node {self.node_id}: no answer to {source!r} in {timeout} s')
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise OtError(f'node {self.node_id} exited during {source!r}')
            if line.startswith(tag + '=> '):
                return line[len(tag) + 3:]
            if line.startswith(tag + '!! '):
                raise OtError(f'node {self.node_id}: {source!r}: {line[len(tag) + 3:]}')
            if line:
                self.unsolicited.append(line)

    def eval(self, source, timeout=5.0):
        """`py`, with the value read back as a Python literal (numbers, strings, bytes, tuples,
        lists, booleans, None)."""
        return ast.literal_eval(self.py(source, timeout))

    def cmd(self, command, timeout=5.0):
        """An OpenThread CLI command through `mesh.cli()`: its output lines; `Error N: ...`
        raises OtError, as for the other nodes."""
        out = self.eval(f'mesh.cli({command!r})', timeout)
        lines = [line for line in out.split('\r\n') if line]
        for line in lines:
            if line.startswith('Error '):
                raise OtError(f'node {self.node_id}: {command!r}: {line}')
        return lines

    def close(self):
        if self.proc.poll() is None:
            try:
                # End of input ends the driver, and the firmware with it.
                self.proc.stdin.close()
                self.proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                pass
        super().close()

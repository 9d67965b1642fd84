// Poll hook for ports without a mesh thread (qemu, bare metal): the VM calls pymesh_vm_hook
// (boards/qemu/hooks.h) and every POLL_EVERY calls it runs the node's due work.
#include "pymesh_ffi.h"

#define POLL_EVERY (256)

void pymesh_vm_hook(void) {
    static unsigned int count;
    if (++count >= POLL_EVERY) {
        count = 0;
        pymesh_poll();
    }
}

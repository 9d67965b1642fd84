// Forced into every C file of the qemu firmware (-include): lets the VM run the mesh while
// Python code runs. MicroPython calls MICROPY_VM_HOOK_LOOP after each backwards jump and
// MICROPY_VM_HOOK_RETURN on each return; pymesh_vm_hook (mpy_module/hooks.c) polls the node
// every few hundred of them.
#ifndef PYMESH_QEMU_HOOKS_H
#define PYMESH_QEMU_HOOKS_H
void pymesh_vm_hook(void);
#define MICROPY_VM_HOOK_LOOP pymesh_vm_hook();
#define MICROPY_VM_HOOK_RETURN pymesh_vm_hook();
#endif

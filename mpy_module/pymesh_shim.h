// Shared declarations of the pymesh MicroPython module (the C shim). The C ABI of the Rust
// core is in the generated header pymesh_ffi.h; this file only joins the shim's own files.
#ifndef PYMESH_SHIM_H
#define PYMESH_SHIM_H

#include "py/obj.h"
#include "pymesh_ffi.h"

extern const mp_obj_type_t pymesh_lora_type;
extern const mp_obj_type_t pymesh_mesh_type;
extern const mp_obj_type_t pymesh_socket_type;

// Raises the Python exception described by err (ValueError or OSError, with its message).
MP_NORETURN void pymesh_raise(const pymesh_error *err);

// Returns the Mesh singleton, starting the mesh with key (NULL: Pymesh's default key).
mp_obj_t pymesh_mesh_get(const uint8_t *key, size_t key_len);

// Brings the board up once (clock, radio, EUI-64); safe to call repeatedly.
void pymesh_shim_board_init(void);

#endif

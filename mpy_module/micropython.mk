# MicroPython user C module: network.LoRa, LoRa.Mesh (the C shim over the Rust core).
#
# The top-level Makefile passes:
#   PYMESH_INCLUDE  directory of the generated pymesh_ffi.h
#   PYMESH_LDLIBS   the board's Rust static library and the system libraries it needs, when the
#                   port links LDFLAGS after its objects (unix); ports that link LDFLAGS first
#                   (qemu) get the library through LIBS instead.
PYMESH_MOD_DIR := $(USERMOD_DIR)

SRC_USERMOD_C += $(PYMESH_MOD_DIR)/modnetwork.c
SRC_USERMOD_C += $(PYMESH_MOD_DIR)/lora.c
SRC_USERMOD_C += $(PYMESH_MOD_DIR)/mesh.c
SRC_USERMOD_C += $(PYMESH_MOD_DIR)/hooks.c
SRC_USERMOD_C += $(PYMESH_MOD_DIR)/socket.c

CFLAGS_USERMOD += -I$(PYMESH_MOD_DIR) -I$(PYMESH_INCLUDE)
LDFLAGS_USERMOD += $(PYMESH_LDLIBS)
